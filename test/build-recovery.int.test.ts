import { rmSync } from "node:fs";
import { afterEach, describe, expect, it } from "vitest";
import { createVersion, getVersion } from "../indexer/lifecycle/versions.js";
import { createLifecycleQueue } from "../src/queues/lifecycle-queue.js";
import { startServer, type RunningServer } from "../src/http/server.js";
import { openRuntime, type Runtime } from "../src/runtime.js";
import { startWorkers, type Workers } from "../src/worker/worker.js";
import { putDocument, testConfig, waitForJob } from "./support/stack.js";

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

describe("a worker starting beside a version whose build job never reached the queue", () => {
  it("queues the build under the job id the version records, once, and the version is built", async () => {
    const config = testConfig();
    const runtime: Runtime = await openRuntime(config);
    cleanups.push(async () => {
      await runtime.queue.obliterate({ force: true }).catch(() => undefined);
      await runtime.close();
      rmSync(config.dataDir, { recursive: true, force: true });
    });
    let workers: Workers = await startWorkers(runtime);
    const server: RunningServer = await startServer(runtime);
    cleanups.push(() => server.close(1_000));
    expect((await putDocument(server.url, "dock", "# Charging Dock\n\nMount the dock against a solid wall.\n")).state).toBe("completed");
    await workers.close(1_000);

    // What a creator that died between writing the version and queuing its build leaves behind.
    await createVersion(runtime.store, { version: "v2", config: {}, actor: "test", maxTopK: config.index.maxTopK, defaultIndexProvider: "lancedb", buildJobId: "build-v2-lost" });
    workers = await startWorkers(runtime);
    cleanups.push(() => workers.close(1_000));

    expect((await waitForJob(server.url, "build-v2-lost")).state).toBe("completed");
    const record = await getVersion(runtime.store, "v2");
    expect(record).toMatchObject({ state: "ready", buildJobId: "build-v2-lost", counts: { documents: 1 } });
    const queue = createLifecycleQueue(config);
    try {
      const builds = (await queue.getJobs(["completed", "failed", "active", "waiting", "delayed"])).filter((job) => job.name === "build" && (job.data as { version: string }).version === "v2");
      expect(builds.map((job) => job.id)).toEqual(["build-v2-lost"]);
    } finally {
      await queue.close();
    }
  });
});
