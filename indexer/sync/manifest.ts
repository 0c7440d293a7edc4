import type { Chunk } from "../../ingest/types.js";
import { readJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { mapBounded } from "../../core/pool.js";

/**
 * What one document is, for one chunking profile: its source fingerprint and
 * its ordered, de-duplicated chunks with their text. Written after the index
 * and registry hold it; the registry can be rebuilt from all manifests.
 */
export interface ManifestChunk {
  hash: string;
  text: string;
  ordinal: number;
  tokenCount: number;
  headingPath: string[];
  charStart: number;
  charEnd: number;
  pageStart?: number;
  pageEnd?: number;
}

export interface SourceFingerprint {
  size: number;
  sha256: string;
  mtimeMs?: number;
  generation?: string;
}

export interface DocumentManifest {
  documentId: string;
  version: number;
  profile: string;
  source: string;
  rawKey: string;
  fingerprint: SourceFingerprint;
  title: string;
  contentType: string;
  tags: string[];
  date?: string;
  chunks: ManifestChunk[];
  indexedAt: string;
}

export const manifestKey = (profile: string, documentId: string) => `manifests/${profile}/${documentId}.json`;

/** Every manifest of a profile, read a few at a time. */
export async function readManifests(store: ObjectStore, profile: string, concurrency = 16): Promise<DocumentManifest[]> {
  const ids: string[] = [];
  for await (const meta of store.list(`manifests/${profile}/`)) if (meta.key.endsWith(".json")) ids.push(meta.key.slice(`manifests/${profile}/`.length, -".json".length));
  const manifests = await mapBounded(ids, concurrency, (id) => readManifest(store, profile, id));
  return manifests.filter((m): m is DocumentManifest => m !== undefined);
}

/** Whether a profile has any manifest (one listing step, not a full listing). */
export async function hasManifests(store: ObjectStore, profile: string): Promise<boolean> {
  for await (const meta of store.list(`manifests/${profile}/`)) if (meta.key.endsWith(".json")) return true;
  return false;
}

export async function readManifest(store: ObjectStore, profile: string, documentId: string): Promise<DocumentManifest | undefined> {
  return (await readJson<DocumentManifest>(store, manifestKey(profile, documentId)))?.value;
}

/** Chunks in document order, one per hash: identical text in one document is one chunk. */
export function manifestChunks(chunks: readonly Chunk[]): ManifestChunk[] {
  const seen = new Set<string>();
  const out: ManifestChunk[] = [];
  for (const c of chunks) {
    if (seen.has(c.hash)) continue;
    seen.add(c.hash);
    out.push({
      hash: c.hash,
      text: c.text,
      ordinal: c.ordinal,
      tokenCount: c.tokenCount,
      headingPath: c.headingPath,
      charStart: c.charStart,
      charEnd: c.charEnd,
      ...(c.pageStart !== undefined ? { pageStart: c.pageStart, pageEnd: c.pageEnd } : {}),
    });
  }
  return out;
}
