import type { Redis } from "ioredis";
import type { ObjectStore } from "../../core/object-store.js";
import { inSlices } from "../../core/yield.js";
import type { VectorIndex } from "../indexes/vector-index.js";
import type { ChunkRecord } from "./chunk-store.js";
import { createChunkStore } from "./chunk-store.js";
import { corpusLockKey, withCorpusLease } from "./corpus-lock.js";
import { readManifest, type DocumentManifest } from "./manifest.js";
import { registryPrefix } from "./profile.js";

/**
 * Rebuilds a profile's chunk store from its manifests when it is missing: a
 * Redis that lost its data, or a corpus indexed before search read hits from
 * the chunk store. Without it every hit of that profile would be left out of
 * search. The manifests say which documents hold each chunk; near-duplicate
 * links live only in the (lost) registry, so a rebuilt entry lists the
 * documents holding the exact text, and the next sync that touches the chunk
 * writes its full entry.
 */
export interface ChunkStoreRebuild {
  profile: string;
  manifests: number;
  entries: number;
}

/** Entries for the chunks of these manifests: each as its primary document (the smallest id holding it) has it. */
export function chunkRecordsOf(manifests: readonly DocumentManifest[]): Map<string, ChunkRecord> {
  const sorted = [...manifests].sort((a, b) => (a.documentId < b.documentId ? -1 : a.documentId > b.documentId ? 1 : 0));
  const holders = new Map<string, DocumentManifest[]>();
  for (const manifest of sorted) {
    for (const chunk of manifest.chunks) {
      const list = holders.get(chunk.hash) ?? [];
      if (list.at(-1) !== manifest) list.push(manifest);
      holders.set(chunk.hash, list);
    }
  }
  const records = new Map<string, ChunkRecord>();
  for (const [hash, docs] of holders) {
    const primary = docs[0] as DocumentManifest;
    const chunk = primary.chunks.find((c) => c.hash === hash);
    if (!chunk) continue;
    records.set(hash, {
      documentId: primary.documentId,
      documentIds: docs.map((d) => d.documentId),
      text: chunk.text,
      title: primary.title,
      source: primary.source,
      headingPath: chunk.headingPath,
      ...(chunk.pageStart !== undefined ? { pageStart: chunk.pageStart, pageEnd: chunk.pageEnd ?? chunk.pageStart } : {}),
      tags: [...new Set(docs.flatMap((d) => d.tags))].sort(),
      contentType: primary.contentType,
    });
  }
  return records;
}

/** Hashes per index read and per chunk-store write: one huge call would hold the event loop and Redis. */
const SLICE = 1_000;

export interface RebuildDeps {
  store: ObjectStore;
  redis: Redis;
  redisPrefix: string;
  lock: { ttlMs: number; waitMs: number };
}

/**
 * Rebuilds the chunk store of `profile` when it holds nothing and the profile
 * has manifests; writes entries only for chunks one of `indexes` holds (what
 * a search can return). Returns what it did, or undefined when there was
 * nothing to do.
 */
export async function rebuildChunkStoreIfMissing(deps: RebuildDeps, profile: string, indexes: readonly VectorIndex[]): Promise<ChunkStoreRebuild | undefined> {
  const prefix = registryPrefix(deps.redisPrefix, profile);
  if ((await deps.redis.exists(`${prefix}:chunks`)) === 1) return undefined;
  return withCorpusLease(deps.redis, corpusLockKey(deps.redisPrefix, profile), deps.lock, async (lease) => {
    // Another process may have rebuilt it while this one waited for the lease.
    if ((await deps.redis.exists(`${prefix}:chunks`)) === 1) return undefined;
    const manifests: DocumentManifest[] = [];
    for await (const meta of deps.store.list(`manifests/${profile}/`)) {
      const documentId = meta.key.slice(`manifests/${profile}/`.length, -".json".length);
      const manifest = await readManifest(deps.store, profile, documentId);
      if (manifest) manifests.push(manifest);
    }
    if (manifests.length === 0) return undefined;
    const records = chunkRecordsOf(manifests);
    const held = new Set<string>();
    await inSlices([...records.keys()], SLICE, async (slice) => {
      for (const index of indexes) for (const id of (await index.fetch(slice)).keys()) held.add(id);
    });
    const chunks = createChunkStore(deps.redis, prefix);
    const entries = [...records].filter(([hash]) => held.has(hash));
    await inSlices(entries, SLICE, (slice) => chunks.put(lease, new Map(slice)));
    return { profile, manifests: manifests.length, entries: entries.length };
  });
}
