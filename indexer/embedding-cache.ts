import type { Embedder, EmbedderIdentity } from "./embedders/embedder.js";
import { ConflictError, NotFoundError } from "../core/errors.js";
import type { ObjectStore } from "../core/object-store.js";

/**
 * Vectors by (embedder identity, chunk hash), in the object store. Each object
 * is one line of a Vertex AI Vector Search batch file ({"id", "embedding"}), so
 * an index can be rebuilt from the cache without embedding anything again.
 * Objects are written create-only: two jobs embedding the same text race
 * harmlessly, the first write wins and both vectors are the same.
 */
export interface EmbeddingCache {
  get(hashes: readonly string[]): Promise<Map<string, Float32Array>>;
  put(vectors: ReadonlyMap<string, Float32Array>): Promise<void>;
}

export interface EmbedResult {
  vectors: Map<string, Float32Array>;
  embedded: number;
  cacheHits: number;
}

function embedderKey(identity: EmbedderIdentity): string {
  return `${identity.provider}.${identity.model}.v${identity.version}.d${identity.dimensions}`.replace(/[^A-Za-z0-9._-]/g, "-");
}

export function createEmbeddingCache(store: ObjectStore, identity: EmbedderIdentity): EmbeddingCache {
  const base = `embeddings/${embedderKey(identity)}`;
  const keyOf = (hash: string) => `${base}/${hash.slice(0, 2)}/${hash}.json`;
  return {
    get: async (hashes) => {
      const out = new Map<string, Float32Array>();
      await Promise.all(
        hashes.map(async (hash) => {
          try {
            const { body } = await store.get(keyOf(hash));
            const line = JSON.parse(body.toString("utf8")) as { embedding: number[] };
            if (line.embedding.length === identity.dimensions) out.set(hash, Float32Array.from(line.embedding));
          } catch (error) {
            if (!(error instanceof NotFoundError)) throw error;
          }
        }),
      );
      return out;
    },
    put: async (vectors) => {
      await Promise.all(
        [...vectors].map(async ([hash, vector]) => {
          try {
            await store.put(keyOf(hash), `${JSON.stringify({ id: hash, embedding: Array.from(vector) })}\n`, { ifGenerationMatch: 0, contentType: "application/json" });
          } catch (error) {
            if (!(error instanceof ConflictError)) throw error; // already cached by another job
          }
        }),
      );
    },
  };
}

/** Vectors for these texts: from the cache where present, the rest embedded in batches and cached. */
export async function embedWithCache(
  embedder: Embedder,
  cache: EmbeddingCache,
  texts: ReadonlyMap<string, string>,
  options: { batchSize: number; concurrency?: number; onProgress?: (done: number, total: number) => Promise<void> | void },
): Promise<EmbedResult> {
  const hashes = [...texts.keys()];
  const vectors = await cache.get(hashes);
  const cacheHits = vectors.size;
  const missing = hashes.filter((h) => !vectors.has(h));
  const batches: string[][] = [];
  for (let i = 0; i < missing.length; i += options.batchSize) batches.push(missing.slice(i, i + options.batchSize));
  let done = 0;
  let next = 0;
  // Up to `concurrency` calls in flight: remote embedders are latency-bound, not CPU-bound.
  const lane = async () => {
    while (next < batches.length) {
      const batch = batches[next++] as string[];
      const embedded = await embedder.embed(batch.map((h) => texts.get(h) as string), { purpose: "document" });
      if (embedded.length !== batch.length) throw new Error(`the embedder returned ${embedded.length} vectors for ${batch.length} texts`);
      const fresh = new Map(batch.map((h, k) => [h, embedded[k] as Float32Array]));
      await cache.put(fresh);
      for (const [h, v] of fresh) vectors.set(h, v);
      done += batch.length;
      await options.onProgress?.(done, missing.length);
    }
  };
  await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 1, batches.length) }, lane));
  return { vectors, embedded: missing.length, cacheHits };
}
