import type { Embedder, EmbedderIdentity } from "./embedders/embedder.js";
import { mapBounded } from "../core/pool.js";
import { NotFoundError, RagopsError } from "../core/errors.js";
import type { Logger } from "../core/logger.js";
import { decodeEntry, embeddingLookupKey, isReservedId, readEntries } from "./embedding-cache/lookup.js";
import { restoreEmbeddingLookup, type LookupRestore, type RestoreDeps } from "./embedding-cache/restore.js";
import { createShardMemory } from "./embedding-cache/shard-memory.js";
import { cacheLayout, decodeLine, embedderKey, type LinePlace } from "./embedding-cache/shards.js";
import { writeShard } from "./embedding-cache/write-shard.js";

export { embedderKey } from "./embedding-cache/shards.js";
export { embeddingLookupKey } from "./embedding-cache/lookup.js";
export { restoreEmbeddingLookup, type LookupRestore } from "./embedding-cache/restore.js";

/**
 * Vectors by (embedder identity, chunk hash), kept so that no text is embedded
 * twice and an index can be rebuilt without embedding anything again.
 *
 * Vectors live in shards in the object store (the source of truth): each put
 * writes one create-only object of Vertex AI batch lines (see
 * embedding-cache/shards.ts), so an ingest writes one object per batch of
 * vectors, not one per chunk, and a Vertex batch rebuild can copy shards into
 * its input directory. A Redis hash per embedder says which shard line holds
 * each hash (embedding-cache/lookup.ts); a get reads each shard it needs once.
 *
 * Two jobs embedding the same text both write a shard and both point the
 * lookup at their own line; the last write wins and either line is good.
 * The lookup is derived: when Redis loses it, or the store holds a cache of the
 * old one-object-per-vector layout, `open` restores it from the store first.
 */
export interface EmbeddingCache {
  /** The cached vectors of these hashes; a hash without one (or whose line is unreadable) is left out. */
  get(hashes: readonly string[]): Promise<Map<string, Float32Array>>;
  /** Writes these vectors as one shard, then enters them in the lookup. */
  put(vectors: ReadonlyMap<string, Float32Array>): Promise<void>;
  /**
   * Restores the lookup from the store when it is not whole (see
   * embedding-cache/restore.ts): checked on every call (a worker start), and
   * by the first `get` of this object. Returns what was restored, or
   * undefined when nothing needed it.
   */
  open(): Promise<LookupRestore | undefined>;
}

export interface EmbeddingCacheDeps extends Omit<RestoreDeps, "lock"> {
  logger: Logger;
  /** The lease that lets one process restore a lookup at a time. @defaultValue ttlMs 30 s, waitMs 120 s */
  lock?: RestoreDeps["lock"];
  /** Bytes of recently read or written shard bodies held in memory. @defaultValue 64 MiB */
  shardMemoryBytes?: number;
}

export interface EmbedResult {
  vectors: Map<string, Float32Array>;
  embedded: number;
  cacheHits: number;
}

const DEFAULT_SHARD_MEMORY_BYTES = 64 * 1024 * 1024;
/** Shard reads at once in one get. */
const READ_CONCURRENCY = 8;

export function createEmbeddingCache(deps: EmbeddingCacheDeps, identity: EmbedderIdentity): EmbeddingCache {
  const { store, redis, logger } = deps;
  const embedder = embedderKey(identity);
  const layout = cacheLayout(identity);
  const lookupKey = embeddingLookupKey(deps.redisPrefix, identity);
  const memory = createShardMemory(deps.shardMemoryBytes ?? DEFAULT_SHARD_MEMORY_BYTES);
  const restoreDeps: RestoreDeps = { store, redis, redisPrefix: deps.redisPrefix, lock: deps.lock ?? { ttlMs: 30_000, waitMs: 120_000 } };

  // open() checks Redis every time it is called (a worker starting again in this process);
  // get() only the first time, so a lookup is one HEXISTS per cache object, not per get.
  let restoring: Promise<LookupRestore | undefined> | undefined;
  const open = () => {
    restoring ??= restoreEmbeddingLookup(restoreDeps, identity)
      .then((restored) => {
        if (restored) logRestore(logger, restored);
        return restored;
      })
      .finally(() => (restoring = undefined));
    return restoring;
  };
  let opened: Promise<unknown> | undefined;
  const openOnce = () => {
    opened ??= open().catch((error: unknown) => {
      opened = undefined; // the next get tries again
      throw error;
    });
    return opened;
  };

  // Two lanes of one sync asking for the same shard share one read.
  const reading = new Map<string, Promise<Buffer | undefined>>();
  const readShard = (key: string): Promise<Buffer | undefined> => {
    const held = memory.get(key);
    if (held) return Promise.resolve(held);
    let read = reading.get(key);
    if (!read) {
      read = store
        .get(key)
        .then(
          ({ body }) => (memory.set(key, body), body),
          (error: unknown) => {
            if (error instanceof NotFoundError) return undefined;
            throw error;
          },
        )
        .finally(() => reading.delete(key));
      reading.set(key, read);
    }
    return read;
  };

  return {
    open,
    get: async (hashes) => {
      await openOnce();
      const found = new Map<string, Float32Array>();
      const values = await readEntries(redis, lookupKey, [...new Set(hashes)]);
      const byShard = new Map<string, Array<{ id: string } & LinePlace>>();
      const malformed: string[] = [];
      for (const [id, value] of values) {
        const entry = decodeEntry(value);
        if (!entry) malformed.push(id);
        else {
          const wanted = byShard.get(entry.shardId) ?? [];
          wanted.push({ id, offset: entry.offset, length: entry.length });
          byShard.set(entry.shardId, wanted);
        }
      }
      if (malformed.length) logger.warn({ embedder, count: malformed.length, ids: malformed.slice(0, 3) }, "embedding cache lookup entries that name no shard line: treated as misses, embedded again");
      await mapBounded([...byShard], READ_CONCURRENCY, async ([shardId, wanted]) => {
        const key = layout.shardKey(shardId);
        const body = await readShard(key);
        if (!body) {
          logger.warn({ embedder, shard: key, vectors: wanted.length }, "an embedding cache shard named by the lookup is gone: its vectors are misses, embedded again");
          return;
        }
        const problems: Array<{ id: string; problem: string }> = [];
        for (const line of wanted) {
          const decoded = decodeLine(body, line, line.id, identity.dimensions);
          if ("vector" in decoded) found.set(line.id, decoded.vector);
          else problems.push({ id: line.id, problem: decoded.problem });
        }
        if (problems.length) logger.warn({ embedder, shard: key, lines: problems.length, first: problems[0] }, "unreadable lines in an embedding cache shard: treated as misses, embedded again");
      });
      return found;
    },
    put: async (vectors) => {
      if (vectors.size === 0) return;
      for (const [id, vector] of vectors) {
        if (isReservedId(id)) throw new RagopsError("internal", `"${id}" cannot be cached: ids starting with "~" are reserved by the embedding cache lookup`);
        if (vector.length !== identity.dimensions) throw new RagopsError("internal", `the vector of ${id} has ${vector.length} dimensions, but embedder ${embedder} makes ${identity.dimensions}: check embedder.dimensions`);
      }
      let written;
      try {
        written = await writeShard(store, redis, lookupKey, layout, vectors);
      } catch (error) {
        if (error instanceof RangeError) throw new RagopsError("internal", `embedder ${embedder} returned a vector that cannot be cached: ${error.message}`, { cause: error });
        throw error;
      }
      memory.set(written.key, written.body);
    },
  };
}

function logRestore(logger: Logger, restored: LookupRestore): void {
  if (restored.shards > 0) logger.warn(restored, `the embedding cache lookup was missing: rebuilt it from ${restored.shards} shards (${restored.entries} vectors)`);
  if (restored.migrated > 0) logger.info(restored, `packed ${restored.migrated} per-chunk embedding cache objects into shards; the old objects are no longer read and may be deleted`);
  if (restored.unreadableLines > 0 || restored.unreadableOld > 0) logger.warn(restored, "some cached vectors could not be read while restoring the embedding cache lookup: they will be embedded again");
}

/** Vectors written to the cache per shard by embedWithCache: a crash loses at most this many vectors' embedding work. */
export const SHARD_VECTORS = 1_000;

/**
 * Vectors for these texts: from the cache where present, the rest embedded in
 * batches and cached. Fresh vectors are cached a shard per `shardVectors`
 * (and at the end), not a shard per batch: a large document's vectors stay in
 * few shards, so reading them back later is few store reads.
 */
export async function embedWithCache(
  embedder: Embedder,
  cache: EmbeddingCache,
  texts: ReadonlyMap<string, string>,
  options: { batchSize: number; concurrency?: number; shardVectors?: number; onProgress?: (done: number, total: number) => Promise<void> | void },
): Promise<EmbedResult> {
  const hashes = [...texts.keys()];
  const vectors = await cache.get(hashes);
  const cacheHits = vectors.size;
  const missing = hashes.filter((h) => !vectors.has(h));
  const batches: string[][] = [];
  for (let i = 0; i < missing.length; i += options.batchSize) batches.push(missing.slice(i, i + options.batchSize));
  const shardVectors = options.shardVectors ?? SHARD_VECTORS;
  let unsaved = new Map<string, Float32Array>();
  const save = async () => {
    if (unsaved.size === 0) return;
    const shard = unsaved;
    unsaved = new Map();
    await cache.put(shard);
  };
  let done = 0;
  let next = 0;
  // Up to `concurrency` calls in flight: remote embedders are latency-bound, not CPU-bound.
  const lane = async () => {
    while (next < batches.length) {
      const batch = batches[next++] as string[];
      const embedded = await embedder.embed(batch.map((h) => texts.get(h) as string), { purpose: "document" });
      if (embedded.length !== batch.length) throw new Error(`the embedder returned ${embedded.length} vectors for ${batch.length} texts`);
      batch.forEach((h, k) => {
        vectors.set(h, embedded[k] as Float32Array);
        unsaved.set(h, embedded[k] as Float32Array);
      });
      if (unsaved.size >= shardVectors) await save();
      done += batch.length;
      await options.onProgress?.(done, missing.length);
    }
  };
  try {
    await Promise.all(Array.from({ length: Math.min(options.concurrency ?? 1, batches.length) }, lane));
  } catch (error) {
    // Keep what was embedded before the failure: the retry need not pay for it again.
    await save().catch(() => undefined);
    throw error;
  }
  await save();
  return { vectors, embedded: missing.length, cacheHits };
}
