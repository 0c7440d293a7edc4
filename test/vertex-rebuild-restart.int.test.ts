import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { uploadKey } from "../core/documents.js";
import { createAndBuild } from "../indexer/lifecycle/operations.js";
import { getVersion } from "../indexer/lifecycle/versions.js";
import { startGcsEmulator, type GcsEmulator } from "../src/dev/gcs-emulator.js";
import type { VertexEmulator } from "../src/dev/vertex-emulator/index.js";
import { getDocument, submitDocument } from "../src/documents/service.js";
import { createLifecycleQueue, enqueueBuild, enqueueRebuild } from "../src/queues/lifecycle-queue.js";
import { openRuntime, type Runtime } from "../src/runtime.js";
import { until } from "./support/until.js";
import { vertexWithEndpoint } from "./support/vertex.js";

/**
 * A worker killed while it waits on a Vertex batch rebuild (updateIndex with
 * contentsDeltaUri): the operation's name is in the version's record, so the
 * worker that takes the rebuild job next follows that operation to its end
 * instead of writing the files and updating the index again. The workers are
 * `ragops worker` processes, killed with SIGKILL; the emulator holds the
 * update until the second worker polls it.
 */
const STAGING = "staging";

function startWorker(configFile: string): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "worker", "--concurrency", "1"], { env: { ...process.env, RAGOPS_CONFIG: configFile }, stdio: ["ignore", "ignore", "ignore"] });
}

const killed = (child: ChildProcess) => new Promise((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve(undefined) : (child.once("exit", resolve), child.kill("SIGKILL"))));

describe("a worker killed during a Vertex batch rebuild", () => {
  let gcs: GcsEmulator;
  let emulator: VertexEmulator;
  let closeVertex: () => Promise<void> = async () => undefined;
  let config: Config;
  let configFile: string;
  let runtime: Runtime;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    gcs = await startGcsEmulator();
    let indexEndpoint: string;
    ({ emulator, indexEndpoint, close: closeVertex } = await vertexWithEndpoint({ gcs }));
    const dataDir = mkdtempSync(join(tmpdir(), "ragops-vertex-rebuild-restart-"));
    const settings = {
      dataDir,
      redis: { url: inject("redisUrl"), prefix: `vb${randomUUID().slice(0, 6)}` },
      // Locks short enough that a killed worker's job comes back within seconds, long enough that a busy machine keeps them renewed.
      queue: { lockDurationMs: 5_000, stalledIntervalMs: 1_000, maxStalledCount: 3 },
      log: { level: "silent" },
      gcp: {
        project: "ragops-test",
        location: "us-central1",
        vertexApiEndpoint: emulator.endpoint,
        storageApiEndpoint: gcs.url,
        vectorSearch: { indexEndpoint, algorithm: "bruteForce", operationPollMs: 20, operationPollMaxMs: 50, stagingUri: `gs://${STAGING}/rebuilds`, batchFileVectors: 2 },
      },
    };
    configFile = join(dataDir, "ragops.json");
    writeFileSync(configFile, JSON.stringify(settings));
    config = loadConfig({ env: {}, file: configFile });
    runtime = await openRuntime(config);
  });

  afterAll(async () => {
    await Promise.all(workers.map(killed));
    await runtime?.queue.obliterate({ force: true }).catch(() => undefined);
    await runtime?.close();
    await closeVertex();
    await gcs?.close();
    if (config) rmSync(config.dataDir, { recursive: true, force: true });
  });

  it("leaves the update's name in the record, and the next worker follows it to its end: one update, the index whole", async () => {
    const first = startWorker(configFile);
    workers.push(first);
    const texts = { dock: "# Charging dock\n\nMount the CD-10 charging dock against a solid wall.\n", battery: "# Battery\n\nReplace the BP-48 battery pack when a charge lasts under six hours.\n", travel: "# Travel\n\nHotel stays are reimbursed up to 180 EUR per night.\n" };
    for (const [id, text] of Object.entries(texts)) {
      const key = uploadKey(randomUUID());
      await runtime.store.put(key, text);
      await submitDocument({ config, store: runtime.store, queue: runtime.queue }, { documentId: id, mode: "upsert", upload: { key, size: text.length, filename: `${id}.md`, contentType: "text/markdown" }, tags: [] });
    }
    await until(async () => ((await Promise.all(Object.keys(texts).map(async (id) => (await getDocument({ store: runtime.store }, id)).status))).every((s) => s === "indexed") || undefined), "the documents to be indexed");
    const queue = createLifecycleQueue(config);
    try {
      await createAndBuild({ store: runtime.store, catalog: runtime.catalog, startBuild: (version, jobId) => enqueueBuild(queue, version, jobId), maxTopK: config.index.maxTopK, defaultIndexProvider: "lancedb" }, { version: "v2", config: { retrieval: { mode: "dense" }, index: { provider: "vertex" } }, actor: "test" });
      await until(async () => ((await getVersion(runtime.store, "v2")).state === "ready" || undefined), "v2 to be built");

      const hold = emulator.vectorSearch.operations.hold({ method: "UpdateIndex" });
      const jobId = await enqueueRebuild(queue, "v2");
      const pending = await until(async () => {
        const record = await getVersion(runtime.store, "v2");
        return record.operation?.step === "updateIndex" ? record.operation : undefined;
      }, "the first worker to start the update");
      await hold.polled(1); // the first worker is polling it
      await killed(first);

      const second = startWorker(configFile);
      workers.push(second);
      await hold.polled(2); // the second worker polls the same operation (the first is dead)
      expect(emulator.calls("UpdateIndex")).toBe(1);
      hold.release();
      const job = await until(async () => {
        const found = await queue.getJob(jobId);
        return found?.finishedOn ? found : undefined;
      }, "the second worker to finish the rebuild");

      expect(await job.getState(), job.failedReason).toBe("completed");
      expect(job.stalledCounter).toBeGreaterThanOrEqual(1);
      const updates = emulator.vectorSearch.operations.list().filter((op) => op.method === "UpdateIndex");
      // The operation the first worker started is the one followed to its end, not a second one started beside it.
      expect(updates[0]).toMatchObject({ name: pending.name, done: true });
      if ((job.stalledCounter ?? 0) === 1) {
        expect(job.returnvalue).toMatchObject({ version: "v2", resumed: true });
        expect(updates).toHaveLength(1);
      }
      // Interrupted again (a lock lapsing on a very busy machine), the job may have run once more after the update ended: a whole rebuild, which is idempotent.
      const record = await getVersion(runtime.store, "v2");
      expect(record.operation).toBeUndefined();
      expect(emulator.vectorSearch.datapoints(record.vertex?.index as string)?.size).toBe(3);
    } finally {
      await queue.close();
    }
  });
});
