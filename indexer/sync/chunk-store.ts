import type { Redis } from "ioredis";
import { UnavailableError } from "../../core/errors.js";
import type { CorpusLease } from "./corpus-lock.js";

/**
 * The chunk store of one chunking profile: what a search shows of each
 * indexed chunk, by chunk hash, so the vector index holds no payload. One
 * Redis hash of compact JSON per profile: a search reads all its hits in one
 * HMGET, whatever k is (one object-store read per hit would cost a round trip
 * each). Every index version of the profile shares it, as they share the
 * registry.
 *
 * Sync writes a chunk's entry before its datapoint enters an index, rewrites
 * it when the documents holding the chunk change, and deletes it after the
 * datapoint left the indexes; writes run only while the caller's corpus
 * lease is current (fencing), like the registry's. Everything in it comes
 * from the manifests and the registry, so it can be rebuilt from them.
 */
export interface ChunkRecord {
  /** The document that speaks for the chunk (the smallest id among those that contain it). */
  documentId: string;
  /** Every document that contains this text, or a near-duplicate of it. */
  documentIds: string[];
  text: string;
  title: string;
  source: string;
  headingPath: string[];
  pageStart?: number;
  pageEnd?: number;
  tags: string[];
  contentType: string;
}

export interface ChunkStore {
  /** Entries of those of these hashes the store holds, in one round trip. */
  get(hashes: readonly string[]): Promise<Map<string, ChunkRecord>>;
  put(lease: CorpusLease, records: ReadonlyMap<string, ChunkRecord>): Promise<void>;
  delete(lease: CorpusLease, hashes: readonly string[]): Promise<void>;
  /** Entries held (every indexed chunk of the profile). */
  count(): Promise<number>;
  /** Every entry, a few hundred at a time (HSCAN: an entry changed meanwhile may come twice or as it was; a batch rebuild takes each hash once). */
  scan(): AsyncIterable<Map<string, ChunkRecord>>;
}

// KEYS: lease, chunks; ARGV: token, then field/value pairs (put) or fields (delete).
const GUARD = `if redis.call("get", KEYS[1]) ~= ARGV[1] then return redis.error_reply("FENCED lease lost") end `;
const PUT = `${GUARD} for i = 2, #ARGV, 2 do redis.call("hset", KEYS[2], ARGV[i], ARGV[i + 1]) end return 1`;
const DELETE = `${GUARD} for i = 2, #ARGV do redis.call("hdel", KEYS[2], ARGV[i]) end return 1`;

/** `prefix` is the profile's registry prefix (registryPrefix in profile.ts). */
export function createChunkStore(redis: Redis, prefix: string): ChunkStore {
  const key = `${prefix}:chunks`;
  const run = async (script: string, lease: CorpusLease, args: string[]): Promise<void> => {
    try {
      await redis.eval(script, 2, lease.key, key, lease.token, ...args);
    } catch (error) {
      if (/FENCED/.test((error as Error).message)) throw new UnavailableError("the corpus lock was lost while writing the chunk store; the job will retry", { cause: error });
      throw error;
    }
  };
  return {
    get: async (hashes) => {
      const out = new Map<string, ChunkRecord>();
      if (hashes.length === 0) return out;
      const values = await redis.hmget(key, ...hashes);
      hashes.forEach((h, i) => {
        const value = values[i];
        if (value) out.set(h, JSON.parse(value) as ChunkRecord);
      });
      return out;
    },
    put: (lease, records) => (records.size ? run(PUT, lease, [...records].flatMap(([h, record]) => [h, JSON.stringify(record)])) : Promise.resolve()),
    delete: (lease, hashes) => (hashes.length ? run(DELETE, lease, [...hashes]) : Promise.resolve()),
    count: () => redis.hlen(key),
    scan: async function* () {
      let cursor = "0";
      do {
        const [next, fields] = await redis.hscan(key, cursor, "COUNT", 500);
        cursor = next;
        const batch = new Map<string, ChunkRecord>();
        for (let i = 0; i + 1 < fields.length; i += 2) batch.set(fields[i] as string, JSON.parse(fields[i + 1] as string) as ChunkRecord);
        if (batch.size > 0) yield batch;
      } while (cursor !== "0");
    },
  };
}
