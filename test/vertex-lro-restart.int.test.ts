import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { vectorSearchClients, type ClientsHandle } from "../indexer/indexes/vertex-clients.js";
import { vertexOperations } from "../indexer/indexes/vertex-operations.js";
import { createAndBuild } from "../indexer/lifecycle/operations.js";
import { getVersion, type IndexVersion } from "../indexer/lifecycle/versions.js";
import { startVertexEmulator, type VertexEmulator } from "../src/dev/vertex-emulator/index.js";
import { createLifecycleQueue, enqueueBuild } from "../src/queues/lifecycle-queue.js";
import { openRuntime, type Runtime } from "../src/runtime.js";
import { until } from "./support/until.js";

/**
 * A worker killed while it waits on a Vertex deploy: the deploy's operation
 * name is in the version's record, so the worker that takes the build job
 * next follows that operation to its end instead of deploying again. The
 * workers are processes of their own (ragops worker), killed with SIGKILL;
 * the emulator holds the deploy until the second worker polls it.
 */
const PARENT = "projects/ragops-test/locations/us-central1";

function startWorker(configFile: string): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "worker", "--concurrency", "1"], { env: { ...process.env, RAGOPS_CONFIG: configFile }, stdio: ["ignore", "ignore", "ignore"] });
}

describe("a worker killed during a Vertex deploy", () => {
  let emulator: VertexEmulator;
  let clients: ClientsHandle;
  let config: Config;
  let configFile: string;
  let runtime: Runtime;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    emulator = await startVertexEmulator();
    clients = vectorSearchClients({ location: "us-central1", vertexApiEndpoint: emulator.endpoint });
    const operations = vertexOperations(clients, { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 10_000, pollMs: 1, pollMaxMs: 5 });
    const indexEndpoint = (await operations.wait("createIndexEndpoint", await operations.startCreateIndexEndpoint(PARENT, "ragops"))).indexEndpoint as string;
    const dataDir = mkdtempSync(join(tmpdir(), "ragops-vertex-restart-"));
    const settings = {
      dataDir,
      redis: { url: inject("redisUrl"), prefix: `vr${randomUUID().slice(0, 6)}` },
      // Locks short enough that a killed worker's job comes back within seconds, long enough that a busy machine keeps them renewed.
      queue: { lockDurationMs: 5_000, stalledIntervalMs: 1_000, maxStalledCount: 3 },
      log: { level: "silent" },
      gcp: { project: "ragops-test", location: "us-central1", vertexApiEndpoint: emulator.endpoint, vectorSearch: { indexEndpoint, algorithm: "bruteForce", operationPollMs: 20, operationPollMaxMs: 50 } },
    };
    configFile = join(dataDir, "ragops.json");
    writeFileSync(configFile, JSON.stringify(settings));
    config = loadConfig({ env: {}, file: configFile });
    runtime = await openRuntime(config);
  });

  afterAll(async () => {
    await Promise.all(workers.map((w) => (w.exitCode === null && w.signalCode === null ? new Promise((resolve) => (w.once("exit", resolve), w.kill("SIGKILL"))) : undefined)));
    await runtime?.queue.obliterate({ force: true }).catch(() => undefined);
    await runtime?.close();
    await clients?.close();
    await emulator?.stop();
    if (config) rmSync(config.dataDir, { recursive: true, force: true });
  });

  it("leaves the deploy's name in the record, and the next worker follows that operation to its end: one deploy, a ready version", async () => {
    const hold = emulator.vectorSearch.operations.hold({ method: "DeployIndex" });
    const queue = createLifecycleQueue(config);
    try {
      await createAndBuild({ store: runtime.store, catalog: runtime.catalog, startBuild: (version, jobId) => enqueueBuild(queue, version, jobId), maxTopK: config.index.maxTopK, defaultIndexProvider: "lancedb" }, { version: "v2", config: { retrieval: { mode: "dense" }, index: { provider: "vertex" } }, actor: "test" });
    } finally {
      await queue.close();
    }
    const first = startWorker(configFile);
    workers.push(first);
    const pending = await until(async () => {
      const record = await getVersion(runtime.store, "v2");
      return record.operation?.step === "deployIndex" ? record.operation : undefined;
    }, "the first worker to start the deploy");
    await hold.polled(1); // the first worker is polling it
    await new Promise((resolve) => (first.once("exit", resolve), first.kill("SIGKILL")));

    const second = startWorker(configFile);
    workers.push(second);
    await hold.polled(2); // the second worker polls the same operation (the first is dead)
    expect(emulator.calls("DeployIndex")).toBe(1);
    hold.release();
    const ready = await until<IndexVersion>(async () => {
      const record = await getVersion(runtime.store, "v2");
      return record.state === "building" ? undefined : record;
    }, "the second worker to finish the build");

    expect(ready).toMatchObject({ state: "ready", vertex: { deployedIndexId: "ragops_v2", deployed: true } });
    expect(ready.operation).toBeUndefined();
    expect(emulator.calls("DeployIndex")).toBe(1);
    const deploys = emulator.vectorSearch.operations.list().filter((op) => op.method.startsWith("DeployIndex"));
    expect(deploys).toEqual([expect.objectContaining({ name: pending.name, done: true })]);
    expect(emulator.vectorSearch.deployed(ready.vertex?.indexEndpoint as string).get("ragops_v2")).toBe(ready.vertex?.index);
  });
});
