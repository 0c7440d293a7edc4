import { chunkDocument } from "../../ingest/chunk-document.js";
import { parseMarkdown } from "../../ingest/parsers/markdown.js";
import type { Config } from "../../config/schema.js";
import { byProfile, syncDepsFor, type OpenVersion } from "../../indexer/lifecycle/catalog.js";
import type { ParsePool } from "../../ingest/parsers/isolated.js";
import type { VectorIndex } from "../../indexer/indexes/vector-index.js";
import { manifestChunks, type DocumentManifest } from "../../indexer/sync/manifest.js";
import type { SyncDeps } from "../../indexer/sync/sync-document.js";
import type { Runtime } from "../../src/runtime.js";

/** Deterministic filler prose: 80 distinct words per seed; `changed` swaps one word, which keeps it a near-duplicate. */
export function prose(seed: number, options: { words?: number; changed?: boolean } = {}): string {
  const words = Array.from({ length: options.words ?? 80 }, (_, i) => `w${seed}x${i}`);
  if (options.changed) words[Math.floor(words.length / 2)] = `changed${seed}`;
  return words.join(" ");
}

/** A Markdown document of `sections` sections of prose, seeds from `seed` on. */
export function sectioned(seed: number, sections: number, options: { changed?: boolean } = {}): string {
  const parts = [`# Manual ${seed}`];
  for (let i = 0; i < sections; i += 1) parts.push(`## Part ${i}`, prose(seed * 100 + i, options));
  return `${parts.join("\n\n")}\n`;
}

/** The manifest an ingest job makes of a Markdown text, with the config's chunking. */
export function manifestOf(config: Config, profile: string, documentId: string, text: string, tags: string[] = []): DocumentManifest {
  const chunks = chunkDocument(parseMarkdown(Buffer.from(text)), { documentId, version: 1, source: `${documentId}.md`, contentType: "text/markdown", tags }, config.chunking);
  const first = chunks[0];
  return {
    documentId,
    version: 1,
    profile,
    source: `${documentId}.md`,
    rawKey: `uploads/${documentId}`,
    fingerprint: { size: text.length, sha256: documentId },
    title: first?.title ?? documentId,
    contentType: "text/markdown",
    tags,
    chunks: manifestChunks(chunks),
    indexedAt: new Date().toISOString(),
  };
}

/** Sync dependencies of the runtime's one profile, as a job has them; `wrap` replaces each target's index. */
export async function jobSyncDeps(runtime: Runtime, wrap: (index: VectorIndex) => VectorIndex = (index) => index): Promise<{ deps: SyncDeps; profile: string; versions: OpenVersion[] }> {
  const [[profile, versions]] = [...byProfile(await runtime.catalog.following())] as [[string, OpenVersion[]]];
  const deps = syncDepsFor({ config: runtime.config, store: runtime.store, redis: runtime.redis, catalog: runtime.catalog, parser: undefined as unknown as ParsePool, logger: runtime.logger }, profile, versions);
  return { deps: { ...deps, targets: deps.targets.map((t) => ({ ...t, index: wrap(t.index as VectorIndex) })) }, profile, versions };
}

/** An index whose writes all fail, as an index that is down for good. */
export function failingWrites(index: VectorIndex, message = "index unavailable"): VectorIndex {
  const fail = async () => Promise.reject(new Error(message));
  return Object.assign(Object.create(index) as VectorIndex, { upsert: fail, updateRestricts: fail, remove: fail });
}
