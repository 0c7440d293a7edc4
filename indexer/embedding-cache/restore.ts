import type { Redis } from "ioredis";
import { mapBounded } from "../../core/pool.js";
import { ConflictError, NotFoundError } from "../../core/errors.js";
import type { ObjectStore } from "../../core/object-store.js";
import type { EmbedderIdentity } from "../embedders/embedder.js";
import { withCorpusLease } from "../sync/corpus-lock.js";
import { COMPLETE_FIELD, embeddingLookupKey, isReservedId, readEntries, writeEntries } from "./lookup.js";
import { cacheLayout, embedderKey, oldLayoutHash, scanShard, shardIdOf, type CacheLayout, type LinePlace } from "./shards.js";
import { writeShard } from "./write-shard.js";

/**
 * Makes an embedder's lookup whole again from the object store:
 *
 * - Redis lost the lookup (flushed, failed over without persistence, evicted):
 *   every shard is listed and scanned and its lines entered again. The cost is
 *   one read of every shard byte; ids are read without parsing vectors.
 * - A cache written in the old layout (one object per vector,
 *   `<base>/<2 chars>/<hash>.json`): its objects are packed into shards once,
 *   then a marker object records it. The old objects stay: a rollback to an
 *   older release still finds them, and nothing reads them once the marker is
 *   written, so they can be deleted by hand (`<base>/??/` prefixes) at leisure.
 *
 * One process does it at a time (a Redis lease); the others wait and find it
 * done. Doing it twice is harmless: every entry written names a line that
 * exists and holds that id, and entries for one id in two shards are equally
 * good.
 */
export interface LookupRestore {
  embedder: string;
  /** Shards scanned, and the lookup entries they gave. */
  shards: number;
  entries: number;
  /** Shard lines with no readable id: left out. */
  unreadableLines: number;
  /** Old-layout objects packed into shards, and those that held no usable vector (left out). */
  migrated: number;
  unreadableOld: number;
}

export interface RestoreDeps {
  store: ObjectStore;
  redis: Redis;
  /** config.redis.prefix */
  redisPrefix: string;
  /** The lease that lets one process restore at a time. */
  lock: { ttlMs: number; waitMs: number };
}

/** Store reads at once while scanning shards or old objects. */
const READ_CONCURRENCY = 8;
/** Old objects per migration shard. */
const MIGRATION_SHARD_VECTORS = 2_000;

/**
 * Restores the lookup when it is not marked complete (or always, with
 * `force`: a reconcile); returns what it did, or undefined when another
 * process had done it or there was nothing to do.
 */
export async function restoreEmbeddingLookup(deps: RestoreDeps, identity: EmbedderIdentity, options: { force?: boolean } = {}): Promise<LookupRestore | undefined> {
  const lookupKey = embeddingLookupKey(deps.redisPrefix, identity);
  const complete = async () => !options.force && (await deps.redis.hexists(lookupKey, COMPLETE_FIELD)) === 1;
  if (await complete()) return undefined;
  return withCorpusLease(deps.redis, `${lookupKey}:restore`, deps.lock, async () => {
    if (await complete()) return undefined; // another process restored it while this one waited
    const layout = cacheLayout(identity);
    const scanned = await enterShards(deps, lookupKey, layout);
    const migrated = await migrateOldLayout(deps, lookupKey, layout, identity.dimensions);
    await deps.redis.hset(lookupKey, COMPLETE_FIELD, new Date().toISOString());
    return { embedder: embedderKey(identity), ...scanned, ...migrated };
  });
}

/** Enters every line of every shard in the lookup. */
async function enterShards(deps: RestoreDeps, lookupKey: string, layout: CacheLayout): Promise<Pick<LookupRestore, "shards" | "entries" | "unreadableLines">> {
  const shards: Array<{ key: string; shardId: string }> = [];
  for await (const meta of deps.store.list(layout.shardPrefix)) {
    const shardId = shardIdOf(layout, meta.key);
    if (shardId) shards.push({ key: meta.key, shardId });
  }
  let entries = 0;
  let unreadableLines = 0;
  await mapBounded(shards, READ_CONCURRENCY, async ({ key, shardId }) => {
    let body: Buffer;
    try {
      body = (await deps.store.get(key)).body;
    } catch (error) {
      if (error instanceof NotFoundError) return; // deleted since the listing
      throw error;
    }
    const lines: Array<[string, LinePlace]> = [];
    for (const { id, offset, length } of scanShard(body)) {
      if (id === undefined || isReservedId(id)) unreadableLines += 1;
      else lines.push([id, { offset, length }]);
    }
    await writeEntries(deps.redis, lookupKey, shardId, lines);
    entries += lines.length;
  });
  return { shards: shards.length, entries, unreadableLines };
}

/** Packs the old layout's per-vector objects into shards, once: the marker object says it was done. */
async function migrateOldLayout(deps: RestoreDeps, lookupKey: string, layout: CacheLayout, dimensions: number): Promise<Pick<LookupRestore, "migrated" | "unreadableOld">> {
  const counts = { migrated: 0, unreadableOld: 0 };
  if (await deps.store.head(layout.markerKey)) return counts;
  let pending: Array<{ key: string; hash: string }> = [];
  const pack = async () => {
    const batch = pending;
    pending = [];
    // An interrupted migration's shards were entered by enterShards: skip what they hold.
    const entered = await readEntries(deps.redis, lookupKey, batch.map((o) => o.hash));
    const vectors = new Map<string, Float32Array>();
    await mapBounded(
      batch.filter((o) => !entered.has(o.hash)),
      READ_CONCURRENCY,
      async ({ key, hash }) => {
        const vector = await readOldObject(deps.store, key, hash, dimensions);
        if (vector) vectors.set(hash, vector);
        else counts.unreadableOld += 1;
      },
    );
    if (vectors.size) await writeShard(deps.store, deps.redis, lookupKey, layout, vectors);
    counts.migrated += vectors.size;
  };
  for await (const meta of deps.store.list(`${layout.base}/`)) {
    const hash = oldLayoutHash(layout, meta.key);
    if (hash === undefined || isReservedId(hash)) continue;
    pending.push({ key: meta.key, hash });
    if (pending.length >= MIGRATION_SHARD_VECTORS) await pack();
  }
  if (pending.length) await pack();
  const marker = { layout: "shards", version: 1, migratedAt: new Date().toISOString(), ...counts };
  try {
    await deps.store.put(layout.markerKey, `${JSON.stringify(marker)}\n`, { ifGenerationMatch: 0, contentType: "application/json" });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // written by a restore that held the lease before this one
  }
  return counts;
}

/** The vector an old-layout object holds, or undefined when it holds none of these dimensions. */
async function readOldObject(store: ObjectStore, key: string, hash: string, dimensions: number): Promise<Float32Array | undefined> {
  let body: Buffer;
  try {
    body = (await store.get(key)).body;
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
  try {
    const { id, embedding } = JSON.parse(body.toString("utf8")) as { id?: unknown; embedding?: unknown };
    if ((id !== undefined && id !== hash) || !Array.isArray(embedding) || embedding.length !== dimensions) return undefined;
    if (!embedding.every((x) => typeof x === "number" && Number.isFinite(x))) return undefined;
    return Float32Array.from(embedding as number[]);
  } catch {
    return undefined;
  }
}
