import type { Redis } from "ioredis";
import { ConflictError } from "../../core/errors.js";
import type { ObjectStore } from "../../core/object-store.js";
import { writeEntries } from "./lookup.js";
import { encodeShard, newShardId, type CacheLayout, type EncodedShard } from "./shards.js";

export interface WrittenShard extends EncodedShard {
  shardId: string;
  key: string;
}

/**
 * Writes these vectors as one new shard (create-only), then points the lookup
 * at its lines. In that order: a crash between the two leaves an orphan shard
 * (found again by a rebuild), never an entry naming a missing line.
 */
export async function writeShard(store: ObjectStore, redis: Redis, lookupKey: string, layout: CacheLayout, vectors: Iterable<readonly [string, Float32Array]>): Promise<WrittenShard> {
  const encoded = encodeShard(vectors);
  for (let attempt = 1; ; attempt += 1) {
    const shardId = newShardId();
    const key = layout.shardKey(shardId);
    try {
      await store.put(key, encoded.body, { ifGenerationMatch: 0, contentType: "application/json" });
    } catch (error) {
      // Two writers drew the same id in the same millisecond (1 in 4 billion): draw again.
      if (error instanceof ConflictError && attempt < 3) continue;
      throw error;
    }
    await writeEntries(redis, lookupKey, shardId, encoded.lines);
    return { ...encoded, shardId, key };
  }
}
