import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import { aliasKey, readAlias, type AliasRecord } from "../../indexer/lifecycle/alias.js";
import { createVersion, getVersion, listVersions, moveVersion } from "../../indexer/lifecycle/versions.js";
import { ConflictError, UnavailableError } from "../../core/errors.js";
import { writeJson } from "../../core/json-records.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";
import type { ObjectStore } from "../../core/object-store.js";
import { createVersionCatalog, type VersionCatalog } from "../../indexer/lifecycle/catalog.js";
import { retire, rollback, swap } from "../../indexer/lifecycle/operations.js";
import { createLogger } from "../../core/logger.js";
import { createRedis } from "../../src/queues/redis.js";

/**
 * The lifecycle operations racing each other on a real local-dir store and real
 * LanceDB tables (Redis unused: swap, rollback and retire never touch the queue
 * or the embedding cache; the catalog gets a connection that never connects).
 */
type RecordState = "ready" | "evaluated" | "building" | "failed" | "retired";

interface World {
  config: Config;
  store: ObjectStore;
  catalog: VersionCatalog;
}

/** A catalog on this store, with a Redis connection made lazily (the operations under test never use it). */
function catalogOn(config: Config, store: ObjectStore): VersionCatalog {
  const redis = createRedis(config.redis.url, "client");
  const catalog = createVersionCatalog({ config, store, redis, logger: createLogger(config) });
  return {
    ...catalog,
    close: async () => {
      await catalog.close();
      redis.disconnect();
    },
  };
}

const worlds: World[] = [];

afterEach(async () => {
  for (const world of worlds.splice(0)) {
    await world.catalog.close();
    rmSync(world.config.dataDir, { recursive: true, force: true });
  }
});

/** Versions in the given record states, each with its LanceDB table (a retired one's was dropped), and the alias as given. */
async function world(states: Record<string, RecordState>, alias: Pick<AliasRecord, "live" | "previous">): Promise<World> {
  const dataDir = mkdtempSync(join(tmpdir(), "ragops-lifecycle-race-"));
  const config = loadConfig({ env: {}, overrides: { dataDir, log: { level: "silent" } } });
  const store = createLocalDirStore({ root: join(dataDir, "objects") });
  const catalog = catalogOn(config, store);
  const made: World = { config, store, catalog };
  worlds.push(made);
  for (const [version, state] of Object.entries(states)) {
    await createVersion(store, { version, config: { embedder: { dimensions: 16 } }, actor: "test", maxTopK: 100, defaultIndexProvider: "lancedb" });
    if (state !== "building") await catalog.open(version); // creates its table
    if (state === "failed") await moveVersion(store, version, "build-failed", { error: "embedder unreachable" });
    if (state === "ready" || state === "evaluated" || state === "retired") await moveVersion(store, version, "build-succeeded");
    if (state === "evaluated") await moveVersion(store, version, "evaluation-passed");
    if (state === "retired") {
      await moveVersion(store, version, "retired");
      await catalog.destroy(version);
    }
  }
  await writeJson(store, aliasKey(), { ...alias, updatedAt: new Date().toISOString(), updatedBy: "test" }, 0);
  return made;
}

async function tables(config: Config): Promise<string[]> {
  const lancedb = await import("@lancedb/lancedb");
  const db = await lancedb.connect(join(config.dataDir, "lancedb"));
  try {
    return await db.tableNames();
  } finally {
    db.close();
  }
}

const tableOf = (version: string) => `chunks_${version.replace(/-/g, "_")}`;

/** A store that, once `key` has been read through it, holds its caller until `until` settles: a deterministic interleaving. */
function pausingAfterRead(store: ObjectStore, key: string, until: () => Promise<unknown>): ObjectStore {
  let paused = false;
  return {
    ...store,
    get: async (k) => {
      const got = await store.get(k);
      if (k === key && !paused) {
        paused = true;
        await until().catch(() => undefined);
      }
      return got;
    },
  };
}

const ADMISSIBLE = new Set(["ready", "evaluated"]);

describe("retire racing a swap (issue 9, item 2)", () => {
  it("refuses a retire that read the alias before a swap to that version committed", async () => {
    const w = await world({ v1: "evaluated", r1: "evaluated" }, { live: "v1", previous: null });
    let swapped: Promise<unknown> = new Promise(() => undefined);
    const retiring = retire({ store: pausingAfterRead(w.store, aliasKey(), () => swapped), catalog: w.catalog }, { version: "r1", actor: "bob" });
    swapped = swap(w, { to: "r1", expectedVersion: "v1", force: true, reason: "race test", actor: "alice" });
    const [s, r] = await Promise.allSettled([swapped, retiring]);
    expect(s).toMatchObject({ status: "fulfilled", value: { live: "r1", previous: "v1" } });
    expect(r.status).toBe("rejected");
    expect((r as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    expect((r as PromiseRejectedResult).reason.message).toMatch(/r1 is live/);
    expect((await getVersion(w.store, "r1")).state).toBe("evaluated");
    expect(await tables(w.config)).toContain(tableOf("r1"));
    expect((await w.catalog.live()).version.record.version).toBe("r1");
  });

  it("refuses a swap that found the version admissible before it was retired", async () => {
    const w = await world({ v1: "evaluated", r1: "evaluated" }, { live: "v1", previous: null });
    let retired: Promise<unknown> = new Promise(() => undefined);
    const swapping = swap({ store: pausingAfterRead(w.store, "indexes/r1.json", () => retired) }, { to: "r1", expectedVersion: "v1", force: true, reason: "race test", actor: "alice" });
    retired = retire(w, { version: "r1", actor: "bob" });
    const [s, r] = await Promise.allSettled([swapping, retired]);
    expect(r).toMatchObject({ status: "fulfilled", value: { version: "r1", state: "retired" } });
    expect(s.status).toBe("rejected");
    expect((s as PromiseRejectedResult).reason).toBeInstanceOf(ConflictError);
    expect((s as PromiseRejectedResult).reason.message).toMatch(/r1 .*retired/);
    expect((await readAlias(w.store)).alias).toMatchObject({ live: "v1", previous: null });
    expect((await w.catalog.live()).version.record.version).toBe("v1");
  });

  it("never makes a retired version live, whichever way swap -> r1 and retire r1 interleave", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), async (s) => {
        const w = await world({ v1: "evaluated", r1: "evaluated" }, { live: "v1", previous: null });
        const store = scheduled(w.store, s);
        const outcomes = await s.waitFor(
          Promise.allSettled([swap({ store }, { to: "r1", expectedVersion: "v1", force: true, reason: "race test", actor: "alice" }), retire({ store, catalog: w.catalog }, { version: "r1", actor: "bob" })]),
        );
        for (const o of outcomes) if (o.status === "rejected") expect(o.reason).toBeInstanceOf(ConflictError);
        expect(outcomes.filter((o) => o.status === "fulfilled")).toHaveLength(1);
        await expectSafe(w);
      }),
      { numRuns: 25 },
    );
  }, 120_000);
});

describe("catalog.live and rollback with a version that cannot serve", () => {
  it("answers 503 naming the version when the alias makes a retired or failed version live", async () => {
    for (const state of ["retired", "failed"] as const) {
      const w = await world({ v1: "evaluated", r1: state }, { live: "r1", previous: "v1" });
      const refused = await w.catalog.live().then(
        () => undefined,
        (error: unknown) => error,
      );
      expect(refused, state).toBeInstanceOf(UnavailableError);
      expect((refused as UnavailableError).status).toBe(503);
      expect((refused as Error).message).toMatch(new RegExp(`live index version r1 is ${state}.*roll back`));
    }
  });

  it("refuses to roll back to a previous version that is retired, failed or still building", async () => {
    for (const state of ["retired", "failed", "building"] as const) {
      const w = await world({ v1: "evaluated", p1: state }, { live: "v1", previous: "p1" });
      await expect(rollback(w, { actor: "alice" }), state).rejects.toThrow(new RegExp(`cannot roll back to p1: it is ${state}`));
      expect((await readAlias(w.store)).alias).toMatchObject({ live: "v1", previous: "p1" });
    }
  });
});

type Op = { kind: "swap"; to: string; expectedVersion: string | null; force: boolean } | { kind: "rollback"; expectedVersion: string | undefined } | { kind: "retire"; version: string };

const INITIAL: Record<string, RecordState> = { v1: "evaluated", v2: "ready", v3: "evaluated", v4: "ready", b1: "building", f1: "failed", r0: "retired" };
// Mostly the versions that can move, so that many operations succeed and race.
const someVersion = fc.constantFrom("v1", "v2", "v3", "v4", "v1", "v2", "v3", "v4", "b1", "f1", "r0");
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("swap" as const), to: someVersion, expectedVersion: fc.constantFrom<string | null>("v1", "v1", "v2", "v3", null), force: fc.boolean() }),
  fc.record({ kind: fc.constant("rollback" as const), expectedVersion: fc.constantFrom<string | undefined>(undefined, "v1", "v2") }),
  fc.record({ kind: fc.constant("retire" as const), version: someVersion }),
);

describe("any interleaving of swap, rollback and retire", () => {
  it("never leaves the alias naming a retired, failed or building version, and each operation succeeds whole or fails with a conflict", async () => {
    await fc.assert(
      // Random operations, always with a swap and a retire contending for one version among them.
      fc.asyncProperty(fc.scheduler(), fc.constantFrom("v2", "v3", "v4"), fc.array(opArb, { maxLength: 5 }), async (s, contended, others) => {
        const ops: Op[] = [{ kind: "swap", to: contended, expectedVersion: "v1", force: true }, { kind: "retire", version: contended }, ...others];
        const w = await world(INITIAL, { live: "v1", previous: "v2" });
        const store = scheduled(w.store, s);
        const deps = { store, catalog: w.catalog };
        const run = (op: Op): Promise<unknown> => {
          switch (op.kind) {
            case "swap":
              return swap(deps, { to: op.to, expectedVersion: op.expectedVersion, force: op.force, reason: "race", actor: "alice" });
            case "rollback":
              return rollback(deps, { ...(op.expectedVersion !== undefined ? { expectedVersion: op.expectedVersion } : {}), actor: "bob" });
            case "retire":
              return retire(deps, { version: op.version, actor: "carol" });
          }
        };
        const outcomes = await s.waitFor(Promise.allSettled(ops.map(run)));
        for (const o of outcomes) if (o.status === "rejected") expect(o.reason).toBeInstanceOf(ConflictError);
        const retiredByOps = ops.flatMap((op, i) => (op.kind === "retire" && outcomes[i]?.status === "fulfilled" ? [op.version] : []));
        // A version is retired by one operation at most, and a retire that said so did it.
        expect(new Set(retiredByOps).size).toBe(retiredByOps.length);
        for (const version of retiredByOps) expect((await getVersion(w.store, version)).state).toBe("retired");
        await expectSafe(w);
      }),
      { numRuns: 40 },
    );
  }, 120_000);
});

/** Every store call waits its turn from the scheduler, so the operations' reads and writes interleave in any order. */
function scheduled(store: ObjectStore, s: fc.Scheduler): ObjectStore {
  const turn = async <T>(label: string, call: () => Promise<T>): Promise<T> => {
    await s.schedule(Promise.resolve(), label);
    return call();
  };
  return {
    ...store,
    get: (key) => turn(`get ${key}`, () => store.get(key)),
    put: (key, body, options) => turn(`put ${key}`, () => store.put(key, body, options)),
    head: (key) => turn(`head ${key}`, () => store.head(key)),
  };
}

/** Live and previous are versions that can serve, the live one opens with its data, and no version that can serve lost its data. */
async function expectSafe(w: World): Promise<void> {
  const { alias } = await readAlias(w.store);
  const present = await tables(w.config);
  for (const named of [alias.live, alias.previous]) {
    if (named === null) continue;
    expect(ADMISSIBLE.has((await getVersion(w.store, named)).state), `${named} is named by the alias ${JSON.stringify(alias)}`).toBe(true);
    expect(present, `${named}'s index data`).toContain(tableOf(named));
  }
  if (alias.live) {
    const fresh = catalogOn(w.config, w.store);
    try {
      expect((await fresh.live()).version.record.version).toBe(alias.live);
    } finally {
      await fresh.close();
    }
  }
  for (const record of await listVersions(w.store)) {
    if (record.state === "retired") expect(present).not.toContain(tableOf(record.version));
    else if (record.state !== "building") expect(present, `${record.version}'s index data`).toContain(tableOf(record.version));
  }
}
