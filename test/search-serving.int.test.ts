import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Config } from "../config/schema.js";
import { ConflictError } from "../core/errors.js";
import { writeJson } from "../core/json-records.js";
import { createLogger } from "../core/logger.js";
import type { ObjectStore } from "../core/object-store.js";
import { aliasKey, readAlias, swapLive } from "../indexer/lifecycle/alias.js";
import { createVersionCatalog, type VersionCatalog } from "../indexer/lifecycle/catalog.js";
import { announcingChanges, changeTokenKey, createChangeSignal, tableWritesKey } from "../indexer/lifecycle/change-signal.js";
import type { LanceDbIndex } from "../indexer/indexes/lancedb.js";
import { retire, rollback, swap } from "../indexer/lifecycle/operations.js";
import { createVersion, moveVersion } from "../indexer/lifecycle/versions.js";
import { createChunkStore, type ChunkRecord } from "../indexer/sync/chunk-store.js";
import { profileKey, registryPrefix } from "../indexer/sync/profile.js";
import { connectRedis, createRedis } from "../src/queues/redis.js";
import { search } from "../src/search.js";
import { createLocalDirStore } from "../src/stores/local-dir.js";
import type { Redis } from "ioredis";
import { testConfig } from "./support/stack.js";
import { until } from "./support/until.js";

/**
 * Two control-plane processes on one object store and one Redis, each with
 * its own store client, signal and catalog (as openRuntime wires them): A
 * searches, B changes the alias. A's store counts the reads it serves.
 */
interface Process {
  store: ObjectStore;
  catalog: VersionCatalog;
  redis: Redis;
  reads(): number;
  close(): Promise<void>;
}

/** Every read of the store (get, getStream, head, list) counted. */
function countingReads(store: ObjectStore): { store: ObjectStore; reads: () => number } {
  let reads = 0;
  const counted = <A extends unknown[], R>(fn: (...args: A) => R) => (...args: A): R => {
    reads += 1;
    return fn(...args);
  };
  return { store: { ...store, get: counted(store.get), getStream: counted(store.getStream), head: counted(store.head), list: counted(store.list) }, reads: () => reads };
}

async function startProcess(config: Config): Promise<Process> {
  const redis = createRedis(config.redis.url, "client");
  await connectRedis(redis, config.redis.url);
  const logger = createLogger(config);
  const signal = createChangeSignal(redis, config.redis.prefix, logger);
  const counting = countingReads(createLocalDirStore({ root: join(config.dataDir, "objects") }));
  const store = announcingChanges(counting.store, signal);
  const catalog = createVersionCatalog({ config, store, redis, logger, signal });
  return {
    store,
    catalog,
    redis,
    reads: counting.reads,
    close: async () => {
      await catalog.close();
      redis.disconnect();
    },
  };
}

const VERSIONS = ["v1", "v2", "v3"];
const chunkOf = (version: string) => `chunk-of-${version}`;

/** Versions each holding one datapoint of their own (its chunk id names the version), with v1 live. */
async function world(overrides: Record<string, unknown> = {}): Promise<{ config: Config; a: Process; b: Process }> {
  const config = testConfig(overrides);
  const a = await startProcess(config);
  const b = await startProcess(config);
  running.push({ config, processes: [a, b] });
  const records = new Map<string, ChunkRecord>();
  for (const version of VERSIONS) {
    await createVersion(b.store, { version, config: { embedder: { dimensions: 16 } }, actor: "test", maxTopK: 100, defaultIndexProvider: "lancedb" });
    await moveVersion(b.store, version, "build-succeeded");
    const { index } = await b.catalog.open(version);
    await index.upsert([{ id: chunkOf(version), vector: Array.from({ length: 16 }, (_, i) => (i === 0 ? 1 : 0)), restricts: { documentIds: [`doc-${version}`], tags: [], contentTypes: ["text/plain"] }, numericRestricts: {} }]);
    records.set(chunkOf(version), { documentId: `doc-${version}`, documentIds: [`doc-${version}`], text: `text of ${version}`, title: version, source: "test", headingPath: [], tags: [], contentType: "text/plain" });
  }
  // The chunk store is written under the corpus lease; this stands in for one.
  const lease = { key: `${config.redis.prefix}:test-lease`, token: "t", held: async () => true, release: async () => undefined };
  await b.redis.set(lease.key, lease.token);
  await createChunkStore(b.redis, registryPrefix(config.redis.prefix, profileKey(config))).put(lease, records);
  await swapLive(b.store, { to: "v1", expectedVersion: null, actor: "test" });
  return { config, a, b };
}

const running: Array<{ config: Config; processes: Process[] }> = [];

afterEach(async () => {
  for (const { config, processes } of running.splice(0)) {
    for (const p of processes) await p.close();
    rmSync(config.dataDir, { recursive: true, force: true });
  }
});

/** The version that answered, after checking every hit is that version's own (no answer mixes two). */
async function answeredBy(p: Process, config: Config, index?: string): Promise<string> {
  const response = await search({ config, catalog: p.catalog, redis: p.redis }, { query: "anything", k: 5, ...(index ? { index } : {}) });
  expect(response.results.map((r) => r.chunkId)).toEqual([chunkOf(response.index)]);
  return response.index;
}

describe("search through the alias held in memory (issue 13)", () => {
  it("answers steady-state searches without reading the object store", async () => {
    const { config, a } = await world();
    expect(await answeredBy(a, config)).toBe("v1");
    expect(await answeredBy(a, config, "v2")).toBe("v2");
    const before = a.reads();
    for (let i = 0; i < 20; i += 1) {
      expect(await answeredBy(a, config)).toBe("v1");
      expect(await answeredBy(a, config, "v2")).toBe("v2");
    }
    expect(a.reads() - before).toBe(0);
  });

  it("sees a swap made by another process at the very next search, then holds again", async () => {
    const { config, a, b } = await world();
    expect(await answeredBy(a, config)).toBe("v1");
    await swap({ store: b.store }, { to: "v2", expectedVersion: "v1", force: true, reason: "test", actor: "test" });
    expect(await answeredBy(a, config)).toBe("v2");
    const before = a.reads();
    expect(await answeredBy(a, config)).toBe("v2");
    expect(a.reads()).toBe(before);
  });

  it("sees a rollback made by another process at the very next search", async () => {
    const { config, a, b } = await world();
    await swap({ store: b.store }, { to: "v2", expectedVersion: "v1", force: true, reason: "test", actor: "test" });
    expect(await answeredBy(a, config)).toBe("v2");
    await rollback({ store: b.store }, { actor: "test" });
    expect(await answeredBy(a, config)).toBe("v1");
  });

  it("refuses a version another process retired at the very next search, and never reopens its dropped table", async () => {
    const { config, a, b } = await world();
    expect(await answeredBy(a, config, "v3")).toBe("v3");
    await retire({ store: b.store, catalog: b.catalog }, { version: "v3", actor: "test" });
    await expect(answeredBy(a, config, "v3")).rejects.toBeInstanceOf(ConflictError);
    const lancedb = await import("@lancedb/lancedb");
    const db = await lancedb.connect(join(config.dataDir, "lancedb"));
    expect(await db.tableNames()).not.toContain("chunks_v3");
    db.close();
  });

  it("finds at its next search a datapoint another process wrote into the live version's table, though it holds the table's version in memory", async () => {
    // No recheck within the test: only the writer's announcement can tell this process the table moved.
    const { a, b } = await world({ search: { aliasRecheckMs: 3_600_000 } });
    const held = (await a.catalog.open("v1")).index as LanceDbIndex;
    const unit = Array.from({ length: 16 }, (_, i) => (i === 0 ? 1 : 0));
    const ids = async () => (await held.query(unit, { k: 5 })).map((n) => n.id).sort();
    // Answered from this process's snapshot of the table, at the version it listed.
    await until(async () => ((await ids(), (await held.searchPath()).path === "memory") || undefined), "a snapshot of v1's table");
    expect(await ids()).toEqual([chunkOf("v1")]);
    const { index } = await b.catalog.open("v1");
    await index.upsert([{ id: "written-later", vector: unit, restricts: { documentIds: ["doc-late"], tags: [], contentTypes: ["text/plain"] }, numericRestricts: {} }]);
    expect(await ids()).toEqual([chunkOf("v1"), "written-later"].sort());
  });

  it("by default answers a search after another process's write from its snapshot caught up with the write, not from LanceDB (index.rowLineage)", async () => {
    const { a, b } = await world();
    const held = (await a.catalog.open("v1")).index as LanceDbIndex;
    const unit = Array.from({ length: 16 }, (_, i) => (i === 0 ? 1 : 0));
    const ids = async () => (await held.query(unit, { k: 5 })).map((n) => n.id).sort();
    await until(async () => ((await ids(), (await held.searchPath()).path === "memory") || undefined), "a snapshot of v1's table");
    const { index } = await b.catalog.open("v1");
    await index.upsert([{ id: "written-later", vector: unit, restricts: { documentIds: ["doc-late"], tags: [], contentTypes: ["text/plain"] }, numericRestricts: {} }]);
    const before = (await held.searchPath()).answered;
    expect(await ids()).toEqual([chunkOf("v1"), "written-later"].sort());
    const after = await held.searchPath();
    expect(after.answered.caughtUp).toBe(before.caughtUp + 1);
    expect(after.answered.lancedb).toBe(before.lancedb);
    expect(after.caughtUp).toMatchObject({ rowsWrittenSince: 1 });
  });

  it("drops a retired version's table write token with its table", async () => {
    const { config, a, b } = await world();
    const { index } = await b.catalog.open("v3");
    await index.upsert([{ id: "another", vector: Array.from({ length: 16 }, () => 1), restricts: { documentIds: ["doc-x"], tags: [], contentTypes: [] }, numericRestricts: {} }]);
    expect(await a.redis.exists(tableWritesKey(config.redis.prefix, "v3"))).toBe(1);
    await retire({ store: b.store, catalog: b.catalog }, { version: "v3", actor: "test" });
    expect(await a.redis.exists(tableWritesKey(config.redis.prefix, "v3"))).toBe(0);
  });

  it("reads the store again when Redis lost the change token, and still sees a later swap", async () => {
    const { config, a, b } = await world();
    expect(await answeredBy(a, config)).toBe("v1");
    await a.redis.del(changeTokenKey(config.redis.prefix));
    const before = a.reads();
    expect(await answeredBy(a, config)).toBe("v1");
    expect(a.reads()).toBeGreaterThan(before);
    await swap({ store: b.store }, { to: "v2", expectedVersion: "v1", force: true, reason: "test", actor: "test" });
    expect(await answeredBy(a, config)).toBe("v2");
  });

  it("with search.aliasRecheckMs 0, sees even an alias written without an announcement at the next search", async () => {
    const { config, a } = await world({ search: { aliasRecheckMs: 0 } });
    expect(await answeredBy(a, config)).toBe("v1");
    const raw = createLocalDirStore({ root: join(config.dataDir, "objects") });
    const { alias, generation } = await readAlias(raw);
    await writeJson(raw, aliasKey(), { ...alias, live: "v2", previous: "v1" }, generation);
    expect(await answeredBy(a, config)).toBe("v2");
  });
});
