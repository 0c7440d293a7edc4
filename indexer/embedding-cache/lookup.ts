import type { Redis } from "ioredis";
import { inSlices } from "../../core/yield.js";
import type { EmbedderIdentity } from "../embedders/embedder.js";
import { embedderKey, type LinePlace } from "./shards.js";

/**
 * The embedding cache's lookup: one Redis hash per embedder identity, chunk
 * hash → `<shard id>:<byte offset>:<byte length>` of its line. Derived from
 * the shards (the object store is the source of truth), so it can be rebuilt
 * from them; entries are written only after their shard exists.
 *
 * Every command touches one key, so the lookup works on Redis Cluster as it
 * is; with a hash tag in the prefix all of a deployment's keys share a slot.
 */

/** `<redis prefix>:emb:<embedderKey>`, beside `<prefix>:corpus:<profile>:…` (indexer/sync/profile.ts). */
export function embeddingLookupKey(redisPrefix: string, identity: EmbedderIdentity): string {
  return `${redisPrefix}:emb:${embedderKey(identity)}`;
}

/**
 * Field set once the lookup holds every shard's lines (a fresh cache, or a
 * finished rebuild). Kept in the lookup hash itself, so whatever loses the
 * hash (a flush, an eviction) loses the mark with it. Chunk ids never start
 * with '~' (put refuses them).
 */
export const COMPLETE_FIELD = "~complete";

export function isReservedId(id: string): boolean {
  return id.startsWith("~");
}

export interface LookupEntry extends LinePlace {
  shardId: string;
}

export function encodeEntry(shardId: string, place: LinePlace): string {
  return `${shardId}:${place.offset}:${place.length}`;
}

/** The entry a lookup value names, or undefined for a value that is not one. */
export function decodeEntry(value: string): LookupEntry | undefined {
  const match = /^([^:]+):(\d{1,15}):(\d{1,15})$/.exec(value);
  if (!match) return undefined;
  return { shardId: match[1] as string, offset: Number(match[2]), length: Number(match[3]) };
}

/** Fields per HMGET / HSET: one round trip per few thousand, and no single command long enough to hold Redis up. */
export const LOOKUP_SLICE = 4_000;

/** The lookup values of these ids (those it holds). */
export async function readEntries(redis: Redis, key: string, ids: readonly string[]): Promise<Map<string, string>> {
  const found = new Map<string, string>();
  await inSlices(ids, LOOKUP_SLICE, async (slice) => {
    const values = await redis.hmget(key, ...slice);
    slice.forEach((id, i) => {
      const value = values[i];
      if (value) found.set(id, value);
    });
  });
  return found;
}

/** Points each id at its line in `shardId`. Call only once the shard exists. */
export async function writeEntries(redis: Redis, key: string, shardId: string, lines: Iterable<readonly [string, LinePlace]>): Promise<void> {
  const fields = [...lines].flatMap(([id, place]) => [id, encodeEntry(shardId, place)]);
  await inSlices(fields, 2 * LOOKUP_SLICE, async (slice) => void (await redis.hset(key, ...slice)));
}
