import { spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createEmbeddingCache, embeddingLookupKey } from "../indexer/embedding-cache.js";
import { COMPLETE_FIELD, decodeEntry } from "../indexer/embedding-cache/lookup.js";
import { cacheLayout, shardIdOf } from "../indexer/embedding-cache/shards.js";
import { createLocalDirStore } from "../src/stores/local-dir.js";
import { startWorkers } from "../src/worker/worker.js";
import { embeddingCacheConformance } from "./conformance/embedding-cache.js";
import { listIndexIds, putDocument, startStack, type Stack } from "./support/stack.js";
import { vectorFor } from "./support/vectors.js";

embeddingCacheConformance("local-dir", async () => createLocalDirStore({ root: mkdtempSync(join(tmpdir(), "ragops-cache-")) }));

describe("embedding cache writers in separate processes", () => {
  it("lets two processes write the same vectors at once: both keep their shards, every vector reads back exact", async () => {
    const root = mkdtempSync(join(tmpdir(), "ragops-cache-procs-"));
    const redisPrefix = `ecp${randomUUID().slice(0, 8)}`;
    const identity = { provider: "test", model: "processes", version: "1", dimensions: 16 };
    const children = [0, 1].map(() => spawn(process.execPath, ["--import", "tsx", "test/support/cache-writer.ts", root, inject("redisUrl"), redisPrefix], { stdio: ["pipe", "pipe", "inherit"] }));
    const said = (child: (typeof children)[number], word: string) =>
      new Promise<void>((resolve, reject) => {
        let out = "";
        child.stdout.on("data", (data: Buffer) => {
          out += data.toString();
          if (out.includes(word)) resolve();
        });
        child.once("exit", (code) => (out.includes(word) ? resolve() : reject(new Error(`writer exited ${code} before saying ${word}`))));
      });
    await Promise.all(children.map((child) => said(child, "ready")));
    const done = children.map((child) => said(child, "done"));
    for (const child of children) child.stdin.write("go\n");
    await Promise.all(done);

    const store = createLocalDirStore({ root });
    const layout = cacheLayout(identity);
    const shards = new Set<string>();
    for await (const meta of store.list("embeddings/")) shards.add(shardIdOf(layout, meta.key) as string);
    expect(shards.size).toBe(20);
    const redis = new Redis(inject("redisUrl"));
    try {
      const entries = Object.entries(await redis.hgetall(embeddingLookupKey(redisPrefix, identity))).filter(([id]) => id !== COMPLETE_FIELD);
      expect(entries).toHaveLength(200);
      for (const [, value] of entries) expect(shards.has(decodeEntry(value)?.shardId as string)).toBe(true);
      const cache = createEmbeddingCache({ store, redis, redisPrefix, logger: pino({ level: "silent" }) }, identity);
      const read = await cache.get(entries.map(([id]) => id));
      for (const [id] of entries) expect([...(read.get(id) ?? [])]).toEqual([...vectorFor(id, 16)]);
    } finally {
      redis.disconnect();
    }
  });
});

describe("an embedding cache lookup lost from Redis", () => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startStack();
  });
  afterAll(async () => {
    await stack?.stop();
  });

  it("is rebuilt from the shards when a worker starts, so no cached vector is embedded again", async () => {
    const words = (seed: number) => Array.from({ length: 120 }, (_, i) => `v${seed}y${i}`).join(" ");
    await putDocument(stack.url, "valve", `# Valve\n\n${words(1)}\n\n## Seals\n\n${words(2)}\n`);
    await putDocument(stack.url, "gauge", `# Gauge\n\n${words(3)}\n`);
    const { version } = await stack.runtime.catalog.live();
    const key = embeddingLookupKey(stack.config.redis.prefix, version.embedder.identity);
    const ids = await listIndexIds(version.index);
    const cached = await redisFields(stack, key);
    expect(cached.length).toBeGreaterThanOrEqual(ids.length);

    await stack.runtime.redis.del(key); // Redis lost its data
    const restarted = await startWorkers(stack.runtime);
    try {
      expect((await redisFields(stack, key)).sort()).toEqual(cached.sort());
      expect((await version.cache.get(ids)).size).toBe(ids.length);
    } finally {
      await restarted.close(1_000);
    }
  });
});

async function redisFields(stack: Stack, key: string): Promise<string[]> {
  return (await stack.runtime.redis.hkeys(key)).filter((field) => field !== COMPLETE_FIELD);
}
