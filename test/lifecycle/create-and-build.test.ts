import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { ObjectStore } from "../../core/object-store.js";
import { buildsToQueue, type VersionCatalog } from "../../indexer/lifecycle/catalog.js";
import { createAndBuild } from "../../indexer/lifecycle/operations.js";
import { createVersion, getVersion, moveVersion } from "../../indexer/lifecycle/versions.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function localStore(): ObjectStore {
  const dir = mkdtempSync(join(tmpdir(), "ragops-create-build-"));
  dirs.push(dir);
  return createLocalDirStore({ root: dir });
}

/** The store, and after each of its writes the builds a worker starting at that moment would queue (`queued`: the job ids the queue knows). */
function watched(store: ObjectStore, queued: Set<string>, seen: unknown[][]): ObjectStore {
  return {
    ...store,
    put: async (key, body, options) => {
      const meta = await store.put(key, body, options);
      seen.push(await buildsToQueue(store, async (id) => queued.has(id)));
      return meta;
    },
  };
}

describe("creating a version and queuing its build", () => {
  it("records the build job on the version as it creates it: no moment shows a building version a starting worker would queue a second build for", async () => {
    const inner = localStore();
    const queued = new Set<string>();
    const seen: unknown[][] = [];
    const store = watched(inner, queued, seen);
    const created = await createAndBuild(
      {
        store,
        catalog: {} as VersionCatalog,
        startBuild: async (version, jobId) => {
          seen.push(await buildsToQueue(inner, async (id) => queued.has(id)));
          queued.add(jobId);
          return jobId;
        },
        maxTopK: 100,
        defaultIndexProvider: "lancedb",
      },
      { version: "v2", actor: "test" },
    );
    expect(seen.length).toBeGreaterThan(1);
    // Before the job is queued, a starting worker would queue it under the recorded id: the same job, which BullMQ keeps once; never one of its own.
    for (const build of seen.flat()) expect(build).toEqual({ version: "v2", jobId: created.buildJobId });
    expect([...queued]).toEqual([created.buildJobId]);
    expect(created.buildJobId).toMatch(/^build-v2-/);
    expect((await getVersion(inner, "v2")).buildJobId).toBe(created.buildJobId);
  });

  it("finds a building version whose recorded job never reached the queue, under that job id, and one with none recorded; none once queued or past building", async () => {
    const store = localStore();
    await createVersion(store, { version: "v1", config: {}, actor: "bootstrap", maxTopK: 100, defaultIndexProvider: "lancedb" });
    await createVersion(store, { version: "v2", config: {}, actor: "test", maxTopK: 100, defaultIndexProvider: "lancedb", buildJobId: "build-v2-lost" });
    await createVersion(store, { version: "v3", config: {}, actor: "test", maxTopK: 100, defaultIndexProvider: "lancedb", buildJobId: "build-v3-queued" });
    await createVersion(store, { version: "v4", config: {}, actor: "test", maxTopK: 100, defaultIndexProvider: "lancedb", buildJobId: "build-v4-gone" });
    await moveVersion(store, "v4", "build-succeeded");
    const known = new Set(["build-v3-queued"]);
    const builds = await buildsToQueue(store, async (id) => known.has(id));
    expect(builds.sort((a, b) => a.version.localeCompare(b.version))).toEqual([{ version: "v1" }, { version: "v2", jobId: "build-v2-lost" }]);
  });
});
