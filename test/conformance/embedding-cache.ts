import { randomUUID } from "node:crypto";
import fc from "fast-check";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterEach, describe, expect, inject, it, vi } from "vitest";
import type { ObjectMeta, ObjectStore } from "../../core/object-store.js";
import type { Embedder, EmbedderIdentity } from "../../indexer/embedders/embedder.js";
import { createEmbeddingCache, embeddingLookupKey, embedWithCache, restoreEmbeddingLookup, type EmbeddingCache } from "../../indexer/embedding-cache.js";
import { COMPLETE_FIELD, decodeEntry } from "../../indexer/embedding-cache/lookup.js";
import { cacheLayout, shardIdOf } from "../../indexer/embedding-cache/shards.js";
import { vectorFor } from "../support/vectors.js";

/**
 * The behaviour of the embedding cache on one object store adapter, with a
 * real Redis (the test run's own): run once per adapter. Each cache object
 * made here has its own Redis connection and no shard memory shared with
 * another, as a cache in another process would.
 */
export function embeddingCacheConformance(name: string, openStore: () => Promise<ObjectStore>): void {
  describe(`EmbeddingCache conformance: ${name}`, () => {
    const cleanups: Array<() => Promise<void> | void> = [];
    afterEach(async () => {
      for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    });

    const DIMS = 16;
    const identity: EmbedderIdentity = { provider: "test", model: "conformance", version: "1", dimensions: DIMS };
    const layout = cacheLayout(identity);

    async function world() {
      const counted = countingStore(await openStore());
      const redisPrefix = `ec${randomUUID().slice(0, 8)}`;
      const logs: LogLine[] = [];
      const logger = pino({ level: "info" }, { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) });
      const connect = () => {
        const redis = new Redis(inject("redisUrl"), { maxRetriesPerRequest: 1 });
        redis.on("error", () => undefined);
        cleanups.push(() => redis.disconnect());
        return redis;
      };
      const redis = connect();
      const lookupKey = embeddingLookupKey(redisPrefix, identity);
      const lock = { ttlMs: 5_000, waitMs: 60_000 };
      cleanups.push(async () => void (await redis.del(lookupKey)));
      return {
        ...counted,
        redis,
        redisPrefix,
        lookupKey,
        logs,
        lock,
        connect,
        /** A new cache object, as another process would open it. */
        cache: (options: { store?: ObjectStore; redis?: Redis } = {}): EmbeddingCache =>
          createEmbeddingCache({ store: options.store ?? counted.store, redis: options.redis ?? connect(), redisPrefix, logger, lock }, identity),
        warnings: (text: string) => logs.filter((l) => l.level === 40 && l.msg.includes(text)),
        keys: async (prefix = "embeddings/") => {
          const keys: string[] = [];
          for await (const meta of counted.store.list(prefix)) keys.push(meta.key);
          return keys;
        },
      };
    }

    it("round-trips random Float32 vectors bit-exact, read back by another cache from the store", async () => {
      const w = await world();
      const writer = w.cache();
      await fc.assert(
        fc.asyncProperty(fc.uniqueArray(fc.tuple(hexId, vectorOf(DIMS)), { selector: ([id]) => id, minLength: 1, maxLength: 30 }), async (entries) => {
          await writer.put(new Map(entries));
          const read = await w.cache().get(entries.map(([id]) => id));
          expect(read.size).toBe(entries.length);
          for (const [id, vector] of entries) expect(bitsOf(read.get(id) as Float32Array)).toEqual(bitsOf(vector));
        }),
        { numRuns: 40 },
      );
    });

    it("leaves out hashes it has no vector for, and answers an empty or repeated request", async () => {
      const w = await world();
      const cache = w.cache();
      await cache.put(vectors(["a1", "a2"]));
      const read = await cache.get(["a1", "zz", "a1", "a2", "a3"]);
      expect([...read.keys()].sort()).toEqual(["a1", "a2"]);
      expect((await cache.get([])).size).toBe(0);
      expect((await w.cache().get(["never"])).size).toBe(0);
    });

    it("writes each put as one create-only shard of Vertex batch lines, and no object per vector", async () => {
      const w = await world();
      const cache = w.cache();
      await cache.put(vectors(range("p", 50)));
      await cache.put(vectors(range("q", 7)));
      const shards = (await w.keys()).filter((k) => shardIdOf(layout, k));
      expect(shards).toHaveLength(2);
      expect((await w.keys()).filter((k) => !shards.includes(k))).toEqual([]);
      const lines = (await w.store.get(shards[0] as string)).body.toString("utf8").split("\n");
      expect(lines.at(-1)).toBe(""); // every line ends in a newline
      for (const line of lines.slice(0, -1)) {
        const parsed = JSON.parse(line) as Record<string, unknown>;
        expect(Object.keys(parsed)).toEqual(["id", "embedding"]);
        expect(parsed.embedding).toHaveLength(DIMS);
      }
    });

    it("reads a shard it wrote or read recently from memory, not the store", async () => {
      const w = await world();
      const cache = w.cache();
      await cache.open();
      await cache.put(vectors(range("m", 100)));
      await cache.get(range("m", 100));
      expect(w.counts.get).toBe(0);
      const other = w.cache();
      await other.get(range("m", 100));
      await other.get(range("m", 100));
      expect(w.counts.get).toBe(1);
    });

    it("lets concurrent writers of the same texts both write: every vector readable, each lookup entry naming one writer's line", async () => {
      const w = await world();
      await w.cache().open();
      const writers = Array.from({ length: 4 }, () => w.cache());
      const ids = range("c", 300);
      const same = vectors(ids);
      // Rounds of every writer putting overlapping slices of the same vectors at once.
      for (let round = 0; round < 5; round += 1) {
        await Promise.all(writers.map((writer, i) => writer.put(new Map([...same].slice((i * 40 + round * 20) % 200, ((i * 40 + round * 20) % 200) + 100)))));
      }
      const shards = new Set((await w.keys()).filter((k) => shardIdOf(layout, k)).map((k) => shardIdOf(layout, k)));
      expect(shards.size).toBe(20);
      const entries = await w.redis.hgetall(w.lookupKey);
      for (const [id, value] of Object.entries(entries)) if (id !== COMPLETE_FIELD) expect(shards.has(decodeEntry(value)?.shardId)).toBe(true);
      const read = await w.cache().get(ids);
      const covered = ids.filter((id) => Object.hasOwn(entries, id));
      expect([...read.keys()].sort()).toEqual(covered.sort());
      for (const id of covered) expect(bitsOf(read.get(id) as Float32Array)).toEqual(bitsOf(same.get(id) as Float32Array));

      // Writers with different vectors for one hash (a provider that is not bit-exact): the last entry wins, and get gives the vector of the line it names.
      const a = w.cache();
      const b = w.cache();
      const va = vectors(["race"], 1);
      const vb = vectors(["race"], 2);
      await Promise.all([a.put(va), b.put(vb)]);
      const named = decodeEntry((await w.redis.hget(w.lookupKey, "race")) as string);
      const line = JSON.parse((await w.store.get(layout.shardKey(named?.shardId as string))).body.toString("utf8", named?.offset, (named?.offset ?? 0) + (named?.length ?? 0))) as { embedding: number[] };
      const got = (await w.cache().get(["race"])).get("race") as Float32Array;
      expect(bitsOf(got)).toEqual(bitsOf(Float32Array.from(line.embedding)));
      expect([bitsOf(va.get("race") as Float32Array), bitsOf(vb.get("race") as Float32Array)]).toContainEqual(bitsOf(got));
    });

    it("after a crash between the shard write and the lookup update: the vectors are misses, and a rebuild recovers them", async () => {
      const w = await world();
      await w.cache().open(); // the lookup is whole: a rebuild on open would hide what the crash left
      // The writer's Redis goes away the moment its shard is stored: the lookup update fails, as if the process died there.
      const redis = w.connect();
      const dying: ObjectStore = { ...w.store, put: async (key, body, options) => {
        const meta = await w.store.put(key, body, options);
        if (key.startsWith(layout.shardPrefix)) redis.disconnect();
        return meta;
      } };
      await w.cache().put(vectors(["kept"])); // an earlier, complete write
      await expect(w.cache({ store: dying, redis }).put(vectors(range("lost", 5)))).rejects.toThrow();
      expect((await w.keys()).filter((k) => shardIdOf(layout, k))).toHaveLength(2); // the orphan shard is there
      const cache = w.cache();
      expect([...(await cache.get([...range("lost", 5), "kept"])).keys()]).toEqual(["kept"]); // never a dangling entry
      const restored = await restoreEmbeddingLookup({ store: w.store, redis: w.redis, redisPrefix: w.redisPrefix, lock: w.lock }, identity, { force: true });
      expect(restored).toMatchObject({ shards: 2, entries: 6, unreadableLines: 0 });
      expect((await cache.get(range("lost", 5))).size).toBe(5);
    });

    it("rebuilds a lookup Redis lost from the shards, once, with a warning and its count", async () => {
      const w = await world();
      const first = w.cache();
      const all = vectors(range("r", 120));
      await first.put(new Map([...all].slice(0, 50)));
      await first.put(new Map([...all].slice(50)));
      await w.redis.del(w.lookupKey); // Redis flushed
      // Several processes start at once: one rebuilds, the others wait and find it done.
      const caches = Array.from({ length: 3 }, () => w.cache());
      const restored = await Promise.all(caches.map((c) => c.open()));
      expect(restored.filter(Boolean)).toEqual([expect.objectContaining({ shards: 2, entries: 120, migrated: 0 })]);
      expect(w.warnings("lookup was missing")).toEqual([expect.objectContaining({ shards: 2, entries: 120 })]);
      const read = await caches[1]?.get([...all.keys()]);
      for (const [id, vector] of all) expect(bitsOf(read?.get(id) as Float32Array)).toEqual(bitsOf(vector));
      // A whole lookup is not rebuilt again: opening costs one Redis read and no store call.
      const before = { ...w.counts };
      await w.cache().open();
      expect(w.counts).toEqual(before);
    });

    it("rebuilds a lookup that holds only entries written since Redis lost it", async () => {
      const w = await world();
      await w.cache().put(vectors(range("h", 10)));
      await w.redis.del(w.lookupKey);
      await w.cache().put(vectors(range("n", 3))); // written after the loss: the lookup exists again, but is not whole
      const read = await w.cache().get([...range("h", 10), ...range("n", 3)]);
      expect(read.size).toBe(13);
    });

    it("migrates an old one-object-per-vector cache: get returns its vectors, and nothing per-vector is written again", async () => {
      const w = await world();
      const old = vectors(range("0a", 30));
      // The old layout, as the previous release wrote it: float64 JSON, one object per vector, under its 2-character prefix.
      for (const [id, vector] of old) await w.store.put(`${layout.base}/${id.slice(0, 2)}/${id}.json`, `${JSON.stringify({ id, embedding: Array.from(vector) })}\n`, { ifGenerationMatch: 0 });
      await w.store.put(`${layout.base}/0b/0bad.json`, "{not json", { ifGenerationMatch: 0 });
      const oldKeys = await w.keys();
      const cache = w.cache();
      const read = await cache.get([...old.keys()]);
      expect(read.size).toBe(30);
      for (const [id, vector] of old) expect(bitsOf(read.get(id) as Float32Array)).toEqual(bitsOf(vector));
      expect(w.logs.filter((l) => l.msg.includes("packed 30"))).toHaveLength(1);
      await cache.put(vectors(range("fresh", 5)));
      const written = (await w.keys()).filter((k) => !oldKeys.includes(k));
      expect(written.every((k) => shardIdOf(layout, k) || k === layout.markerKey)).toBe(true);
      expect(written.filter((k) => shardIdOf(layout, k))).toHaveLength(2); // the migration's shard and the put's

      // Redis lost again: the rebuild reads the shards, and the marker says the old objects are packed already.
      await w.redis.del(w.lookupKey);
      expect(await w.cache().open()).toMatchObject({ shards: 2, entries: 35, migrated: 0 });
      // A migration interrupted before its marker: the next restore packs nothing it already entered.
      await w.store.delete(layout.markerKey);
      await w.redis.hdel(w.lookupKey, COMPLETE_FIELD);
      expect(await w.cache().open()).toMatchObject({ migrated: 0, unreadableOld: 1 });
      expect((await w.keys()).filter((k) => shardIdOf(layout, k))).toHaveLength(2);
      expect((await w.cache().get([...old.keys()])).size).toBe(30);
    });

    it("treats a corrupt shard line, a foreign line, a malformed entry and a deleted shard as misses with a warning, never a failure", async () => {
      const w = await world();
      await w.cache().open();
      await w.cache().put(vectors(["good", "bent", "swap"]));
      await w.cache().put(vectors(["gone"]));
      const entries = await w.redis.hgetall(w.lookupKey);
      const bent = decodeEntry(entries.bent as string);
      const key = layout.shardKey(bent?.shardId as string);
      const body = Buffer.from((await w.store.get(key)).body);
      body.write("@@@@", (bent?.offset ?? 0) + 40); // bytes damaged in place
      await w.store.put(key, body); // a repair by hand, say, gone wrong: shards are otherwise never rewritten
      await w.redis.hset(w.lookupKey, "swap", entries.good as string); // an entry naming another id's line
      await w.redis.hset(w.lookupKey, "junk", "not an entry");
      await w.store.delete(layout.shardKey(decodeEntry(entries.gone as string)?.shardId as string));
      const read = await w.cache().get(["good", "bent", "swap", "junk", "gone"]);
      expect([...read.keys()]).toEqual(["good"]);
      expect(w.warnings("unreadable lines")).toEqual([expect.objectContaining({ lines: 2 })]);
      expect(w.warnings("name no shard line")).toHaveLength(1);
      expect(w.warnings("shard named by the lookup is gone")).toHaveLength(1);
    });

    it("reads 10,000 cached vectors in a handful of store reads and Redis round trips", async () => {
      const w = await world();
      const ids = range("k", 10_000);
      const texts = new Map(ids.map((id) => [id, id]));
      await embedWithCache(fakeEmbedder(DIMS), w.cache(), texts, { batchSize: 64, concurrency: 2 });
      const reads = w.counts.get;
      const redis = w.connect();
      const hmget = vi.spyOn(redis, "hmget");
      const read = await w.cache({ redis }).get(ids);
      expect(read.size).toBe(10_000);
      expect(w.counts.get - reads).toBeLessThanOrEqual(10);
      expect(hmget.mock.calls.length).toBeLessThanOrEqual(3);
    });

    it("writes O(batches) objects for an ingest, never one per vector", async () => {
      const w = await world();
      const embedder = fakeEmbedder(DIMS);
      const cache = w.cache();
      // A large document, then small ones: as a sync calls it, once per document (slice).
      const large = await embedWithCache(embedder, cache, new Map(range("L", 2_500).map((id) => [id, id])), { batchSize: 64, concurrency: 2 });
      for (let d = 0; d < 10; d += 1) await embedWithCache(embedder, cache, new Map(range(`d${d}-`, 40).map((id) => [id, id])), { batchSize: 16 });
      expect(large.embedded).toBe(2_500);
      const batches = Math.ceil(2_500 / 64) + 10 * Math.ceil(40 / 16);
      const shards = w.puts.filter((k) => shardIdOf(layout, k));
      expect(shards).toHaveLength(3 + 10); // 1,000 vectors a shard at most, and a shard per call
      expect(shards.length).toBeLessThan(batches);
      expect(w.puts.filter((k) => !shardIdOf(layout, k) && k !== layout.markerKey)).toEqual([]);
      // The second time, every vector comes from the cache.
      const again = await embedWithCache(embedder, w.cache(), new Map(range("L", 2_500).map((id) => [id, id])), { batchSize: 64 });
      expect(again).toMatchObject({ embedded: 0, cacheHits: 2_500 });
    });

    it("keeps the vectors embedded before an embedder failure", async () => {
      const w = await world();
      const healthy = fakeEmbedder(DIMS);
      let calls = 0;
      const failing: Embedder = { identity, embed: async (texts, options) => (++calls === 3 ? Promise.reject(new Error("quota")) : healthy.embed(texts, options)) };
      const texts = new Map(range("f", 100).map((id) => [id, id]));
      await expect(embedWithCache(failing, w.cache(), texts, { batchSize: 10 })).rejects.toThrow("quota");
      expect((await w.cache().get([...texts.keys()])).size).toBe(20);
    });
  });
}

interface LogLine {
  level: number;
  msg: string;
  [field: string]: unknown;
}

/** The store, counting the calls made through it and the keys written. */
function countingStore(inner: ObjectStore) {
  const counts = { get: 0, put: 0, list: 0, head: 0, delete: 0 };
  const puts: string[] = [];
  const store: ObjectStore = {
    put: (key, body, options) => {
      counts.put += 1;
      puts.push(key);
      return inner.put(key, body, options);
    },
    get: (key) => {
      counts.get += 1;
      return inner.get(key);
    },
    getStream: (key) => inner.getStream(key),
    head: (key) => {
      counts.head += 1;
      return inner.head(key);
    },
    delete: (key, options) => {
      counts.delete += 1;
      return inner.delete(key, options);
    },
    list: (prefix): AsyncIterable<ObjectMeta> => {
      counts.list += 1;
      return inner.list(prefix);
    },
    close: () => inner.close(),
  };
  return { store, counts, puts };
}

const hexId = fc.stringMatching(/^[0-9a-f]{16}$/);
const vectorOf = (dims: number) => fc.float32Array({ minLength: dims, maxLength: dims, noNaN: true, noDefaultInfinity: true });
const bitsOf = (v: Float32Array) => [...new Uint32Array(v.buffer, v.byteOffset, v.length)];
const range = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}${String(i).padStart(5, "0")}`);

function vectors(ids: readonly string[], seed = 0, dims = 16): Map<string, Float32Array> {
  return new Map(ids.map((id) => [id, vectorFor(id, dims, seed)]));
}

function fakeEmbedder(dims: number): Embedder {
  return { identity: { provider: "test", model: "conformance", version: "1", dimensions: dims }, embed: async (texts) => texts.map((t) => vectorFor(t, dims)) };
}
