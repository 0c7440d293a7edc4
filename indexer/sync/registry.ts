import type { Redis } from "ioredis";
import { decodeSignature, encodeSignature } from "../../ingest/dedupe/minhash.js";
import { UnavailableError } from "../../core/errors.js";
import type { CorpusLease } from "./corpus-lock.js";

/**
 * The chunk registry of one chunking profile, in Redis: which documents
 * reference which chunk, which chunks are near-duplicates of which, and the
 * MinHash LSH buckets of the chunks that are indexed (canonical).
 *
 * References are sets, never counters: adding a reference twice (a retried
 * job) changes nothing. `docrefs` is the inverse of `ref`, kept in the same
 * atomic step, so a job can always find what an interrupted earlier attempt
 * left behind. Every write runs in Redis only while the caller's corpus lease
 * token is current (fencing). All of it can be rebuilt from the manifests.
 */
export interface ChunkRegistry {
  docRefs(documentId: string): Promise<Set<string>>;
  refs(hashes: readonly string[]): Promise<Map<string, Set<string>>>;
  dupOf(hashes: readonly string[]): Promise<Map<string, string>>;
  dupsOf(canonical: string): Promise<Set<string>>;
  signatures(hashes: readonly string[]): Promise<Map<string, Uint32Array>>;
  /** Chunks sharing an LSH band with each signature's bands, for many signatures in one round trip. */
  candidatesMany(bandLists: readonly (readonly string[])[]): Promise<Set<string>[]>;
  dupsOfMany(canonicals: readonly string[]): Promise<Map<string, Set<string>>>;
  addRefs(lease: CorpusLease, documentId: string, hashes: readonly string[]): Promise<void>;
  removeRef(lease: CorpusLease, documentId: string, hash: string): Promise<void>;
  /** removeRef for many chunks of one document in one round trip. */
  removeRefs(lease: CorpusLease, documentId: string, hashes: readonly string[]): Promise<void>;
  markCanonical(lease: CorpusLease, hash: string, signature: Uint32Array, bands: readonly string[]): Promise<void>;
  /** markCanonical for many chunks in one round trip. */
  markCanonicalMany(lease: CorpusLease, items: ReadonlyArray<{ hash: string; signature: Uint32Array; bands: readonly string[] }>): Promise<void>;
  unmarkCanonical(lease: CorpusLease, hash: string, bands: readonly string[]): Promise<void>;
  markDuplicate(lease: CorpusLease, hash: string, canonical: string): Promise<void>;
  unmarkDuplicate(lease: CorpusLease, hash: string): Promise<void>;
  /** What restricts need of each document: tags and content type. */
  docMeta(documentIds: readonly string[]): Promise<Map<string, DocMeta>>;
  setDocMeta(lease: CorpusLease, documentId: string, meta: DocMeta | undefined): Promise<void>;
  /** Deletes every key of this profile (tests, rebuilds). */
  clear(): Promise<void>;
}

export interface DocMeta {
  tags: string[];
  contentType: string;
}

// KEYS[1] is always the lease key, ARGV[1] the lease token.
const GUARD = `if redis.call("get", KEYS[1]) ~= ARGV[1] then return redis.error_reply("FENCED lease lost") end `;
const SCRIPTS = {
  // KEYS: lease, docrefs(doc); ARGV: token, prefix, doc, hashes...
  addRefs: `${GUARD} for i = 4, #ARGV do redis.call("sadd", ARGV[2] .. "ref:" .. ARGV[i], ARGV[3]); redis.call("sadd", KEYS[2], ARGV[i]) end return 1`,
  // KEYS: lease, docrefs(doc); ARGV: token, prefix, doc, hashes...
  removeRefs: `${GUARD} for i = 4, #ARGV do redis.call("srem", ARGV[2] .. "ref:" .. ARGV[i], ARGV[3]); redis.call("srem", KEYS[2], ARGV[i]) end return 1`,
  // KEYS: lease, ref(hash), docrefs(doc); ARGV: token, doc, hash
  removeRef: `${GUARD} redis.call("srem", KEYS[2], ARGV[2]); redis.call("srem", KEYS[3], ARGV[3]) return 1`,
  // KEYS: lease, sig(hash); ARGV: token, prefix, hash, signature, bands...
  markCanonical: `${GUARD} redis.call("set", KEYS[2], ARGV[4]) for i = 5, #ARGV do redis.call("sadd", ARGV[2] .. "lsh:" .. ARGV[i], ARGV[3]) end return 1`,
  unmarkCanonical: `${GUARD} redis.call("del", KEYS[2]) for i = 5, #ARGV do redis.call("srem", ARGV[2] .. "lsh:" .. ARGV[i], ARGV[3]) end return 1`,
  // KEYS: lease, dupof, dups(canonical); ARGV: token, prefix, hash, canonical. Moves the duplicate when it pointed elsewhere.
  markDuplicate: `${GUARD} local old = redis.call("hget", KEYS[2], ARGV[3]) if old and old ~= ARGV[4] then redis.call("srem", ARGV[2] .. "dups:" .. old, ARGV[3]) end redis.call("hset", KEYS[2], ARGV[3], ARGV[4]); redis.call("sadd", KEYS[3], ARGV[3]) return 1`,
  // KEYS: lease, dupof; ARGV: token, prefix, hash
  // KEYS: lease, docmeta; ARGV: token, doc, json ("" deletes)
  setDocMeta: `${GUARD} if ARGV[3] == "" then redis.call("hdel", KEYS[2], ARGV[2]) else redis.call("hset", KEYS[2], ARGV[2], ARGV[3]) end return 1`,
  unmarkDuplicate: `${GUARD} local c = redis.call("hget", KEYS[2], ARGV[3]) if c then redis.call("srem", ARGV[2] .. "dups:" .. c, ARGV[3]); redis.call("hdel", KEYS[2], ARGV[3]) end return 1`,
} as const;

export function createChunkRegistry(redis: Redis, prefix: string): ChunkRegistry {
  const p = `${prefix}:`;
  const run = async (script: string, keys: string[], args: Array<string | Buffer>): Promise<void> => {
    try {
      await redis.eval(script, keys.length, ...keys, ...args);
    } catch (error) {
      if (/FENCED/.test((error as Error).message)) throw new UnavailableError("the corpus lock was lost while writing the chunk registry; the job will retry", { cause: error });
      throw error;
    }
  };
  /** Set-valued commands in one round trip, one Set per command. */
  const setsOf = async (commands: string[][]): Promise<Set<string>[]> => {
    if (commands.length === 0) return [];
    const results = (await redis.pipeline(commands).exec()) ?? [];
    return commands.map((_, i) => new Set((results[i]?.[1] as string[] | undefined) ?? []));
  };
  return {
    docRefs: async (documentId) => new Set(await redis.smembers(`${p}docrefs:${documentId}`)),
    refs: async (hashes) => new Map((await setsOf(hashes.map((h) => ["smembers", `${p}ref:${h}`]))).map((set, i) => [hashes[i] as string, set])),
    dupOf: async (hashes) => {
      const out = new Map<string, string>();
      if (hashes.length === 0) return out;
      const values = await redis.hmget(`${p}dupof`, ...hashes);
      hashes.forEach((h, i) => {
        const canonical = values[i];
        if (canonical) out.set(h, canonical);
      });
      return out;
    },
    dupsOf: async (canonical) => new Set(await redis.smembers(`${p}dups:${canonical}`)),
    signatures: async (hashes) => {
      const out = new Map<string, Uint32Array>();
      if (hashes.length === 0) return out;
      const values = await redis.mgetBuffer(...hashes.map((h) => `${p}sig:${h}`));
      hashes.forEach((h, i) => {
        const value = values[i];
        if (value) out.set(h, decodeSignature(value));
      });
      return out;
    },
    candidatesMany: (bandLists) => setsOf(bandLists.map((bands) => ["sunion", ...bands.map((b) => `${p}lsh:${b}`)])),
    dupsOfMany: async (canonicals) => new Map((await setsOf(canonicals.map((c) => ["smembers", `${p}dups:${c}`]))).map((set, i) => [canonicals[i] as string, set])),
    addRefs: (lease, documentId, hashes) =>
      hashes.length ? run(SCRIPTS.addRefs, [lease.key, `${p}docrefs:${documentId}`], [lease.token, p, documentId, ...hashes]) : Promise.resolve(),
    removeRefs: (lease, documentId, hashes) =>
      hashes.length ? run(SCRIPTS.removeRefs, [lease.key, `${p}docrefs:${documentId}`], [lease.token, p, documentId, ...hashes]) : Promise.resolve(),
    removeRef: (lease, documentId, hash) => run(SCRIPTS.removeRef, [lease.key, `${p}ref:${hash}`, `${p}docrefs:${documentId}`], [lease.token, documentId, hash]),
    markCanonical: (lease, hash, signature, bands) => run(SCRIPTS.markCanonical, [lease.key, `${p}sig:${hash}`], [lease.token, p, hash, encodeSignature(signature), ...bands]),
    markCanonicalMany: async (lease, items) => {
      if (items.length === 0) return;
      const pipeline = redis.pipeline();
      for (const { hash, signature, bands } of items) pipeline.eval(SCRIPTS.markCanonical, 2, lease.key, `${p}sig:${hash}`, lease.token, p, hash, encodeSignature(signature), ...bands);
      for (const [error] of (await pipeline.exec()) ?? []) {
        if (error && /FENCED/.test(error.message)) throw new UnavailableError("the corpus lock was lost while writing the chunk registry; the job will retry", { cause: error });
        if (error) throw error;
      }
    },
    unmarkCanonical: (lease, hash, bands) => run(SCRIPTS.unmarkCanonical, [lease.key, `${p}sig:${hash}`], [lease.token, p, hash, "", ...bands]),
    markDuplicate: (lease, hash, canonical) => run(SCRIPTS.markDuplicate, [lease.key, `${p}dupof`, `${p}dups:${canonical}`], [lease.token, p, hash, canonical]),
    unmarkDuplicate: (lease, hash) => run(SCRIPTS.unmarkDuplicate, [lease.key, `${p}dupof`], [lease.token, p, hash]),
    docMeta: async (documentIds) => {
      const out = new Map<string, DocMeta>();
      if (documentIds.length === 0) return out;
      const values = await redis.hmget(`${p}docmeta`, ...documentIds);
      documentIds.forEach((d, i) => {
        const value = values[i];
        if (value) out.set(d, JSON.parse(value) as DocMeta);
      });
      return out;
    },
    setDocMeta: (lease, documentId, meta) => run(SCRIPTS.setDocMeta, [lease.key, `${p}docmeta`], [lease.token, documentId, meta ? JSON.stringify(meta) : ""]),
    clear: async () => {
      let cursor = "0";
      do {
        const [next, keys] = await redis.scan(cursor, "MATCH", `${p}*`, "COUNT", 1000);
        cursor = next;
        if (keys.length) await redis.del(...keys);
      } while (cursor !== "0");
    },
  };
}
