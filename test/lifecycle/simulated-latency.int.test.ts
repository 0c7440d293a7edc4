import { mkdtempSync, rmSync } from "node:fs";
import { Writable } from "node:stream";
import { pino } from "pino";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, afterEach, describe, expect, inject, it, vi } from "vitest";
import { createLogger } from "../../core/logger.js";
import { loadConfig } from "../../config/load.js";
import type { Embedder } from "../../indexer/embedders/embedder.js";
import { createOfflineHashingEmbedder } from "../../indexer/embedders/offline-hashing.js";
import { createVersionCatalog, type VersionCatalog } from "../../indexer/lifecycle/catalog.js";
import { createVersion } from "../../indexer/lifecycle/versions.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";
import { openRuntime } from "../../src/runtime.js";
import { testConfig } from "../support/stack.js";

/** The catalog opens each index version's embedder and index behind the latency config.simulate asks for (benchmarks run workers as separate processes). */
const opened: Array<{ catalog: VersionCatalog; dataDir: string }> = [];
const redis = new Redis(inject("redisUrl"));
afterAll(() => redis.quit());

afterEach(async () => {
  vi.useRealTimers();
  for (const { catalog, dataDir } of opened.splice(0)) {
    await catalog.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
});

async function openVersion(simulate: { embedLatencyMs: number; indexWriteLatencyMs: number }) {
  const dataDir = mkdtempSync(join(tmpdir(), "ragops-simulate-"));
  const config = loadConfig({ env: {}, overrides: { dataDir, log: { level: "silent" }, simulate, redis: { url: inject("redisUrl"), prefix: `sim${Math.random().toString(16).slice(2, 8)}` } } });
  const store = createLocalDirStore({ root: join(dataDir, "objects") });
  const made: Embedder[] = [];
  const catalog = createVersionCatalog({ config, store, redis, logger: createLogger(config) }, (embedderConfig) => {
    const embedder = createOfflineHashingEmbedder({ dimensions: embedderConfig.dimensions });
    made.push(embedder);
    return embedder;
  });
  opened.push({ catalog, dataDir });
  await createVersion(store, { version: "v1", config: { embedder: { dimensions: 16 } }, actor: "test", maxTopK: 100, defaultIndexProvider: "lancedb" });
  return { version: await catalog.open("v1"), made };
}

describe("simulated latency in the version catalog", () => {
  it("opens a version's embedder behind the simulated latency, with the embedder's identity and vectors", async () => {
    const { version, made } = await openVersion({ embedLatencyMs: 1, indexWriteLatencyMs: 0 });
    const [inner] = made as [Embedder];
    expect(version.embedder).not.toBe(inner);
    expect(version.embedder.identity).toBe(inner.identity);
    expect(await version.embedder.embed(["dock clearance"], { purpose: "document" })).toEqual(await inner.embed(["dock clearance"], { purpose: "document" }));
  });

  it("opens a version's index behind the simulated write latency: each write waits on a timer of that delay, then reaches the index", async () => {
    const { version } = await openVersion({ embedLatencyMs: 0, indexWriteLatencyMs: 60_000 });
    const vector = (await version.embedder.embed(["dock clearance"], { purpose: "document" }))[0] as Float32Array;
    const restricts = { documentIds: ["d1"], tags: [], contentTypes: ["text/markdown"] };
    vi.useFakeTimers({ toFake: ["setTimeout"] });
    /** Starts a write and lets its delay pass on the fake clock: the timer is pending until the full delay has passed. */
    const write = async (start: () => Promise<void>) => {
      const done = start();
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(59_999);
      expect(vi.getTimerCount()).toBe(1);
      await vi.advanceTimersByTimeAsync(1);
      expect(vi.getTimerCount()).toBe(0);
      await done;
    };
    await write(() => version.index.upsert([{ id: "c1", vector, restricts, numericRestricts: {} }]));
    expect(await version.index.count()).toBe(1);
    await write(() => version.index.updateRestricts([{ id: "c1", restricts: { ...restricts, tags: ["t"] }, numericRestricts: {} }]));
    expect((await version.index.fetch(["c1"])).get("c1")?.restricts.tags).toEqual(["t"]);
    await write(() => version.index.remove(["c1"]));
    expect(await version.index.count()).toBe(0);
  });

  it("opens the embedder as made when no latency is simulated", async () => {
    const { version, made } = await openVersion({ embedLatencyMs: 0, indexWriteLatencyMs: 0 });
    expect(version.embedder).toBe(made[0]);
  });

  it("makes a process log a warning at start, so nobody finds it on by surprise", async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const sink = new Writable({ write: (chunk: Buffer, _encoding, done) => (lines.push(JSON.parse(chunk.toString()) as { level: number; msg: string }), done()) });
    const logger = pino({ level: "warn" }, sink);
    for (const simulate of [{ embedLatencyMs: 0, indexWriteLatencyMs: 0 }, { embedLatencyMs: 50, indexWriteLatencyMs: 30 }]) {
      const config = testConfig({ simulate });
      const runtime = await openRuntime(config, { logger });
      await runtime.close();
      rmSync(config.dataDir, { recursive: true, force: true });
    }
    expect(lines.map((l) => [l.level, l.msg])).toEqual([[40, expect.stringMatching(/simulated latency is on .*50 ms per embedder call, 30 ms per index write/)]]);
  });
});
