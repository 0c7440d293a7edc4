import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { Worker, type Queue } from "bullmq";
import type { Redis } from "ioredis";
import { afterEach, describe, expect, it } from "vitest";
import type { Config } from "../config/schema.js";
import { uploadKey } from "../core/documents.js";
import { retire } from "../indexer/lifecycle/operations.js";
import { createVersion, getVersion, newBuildJobId } from "../indexer/lifecycle/versions.js";
import { deleteDocument, getDocument, submitDocument } from "../src/documents/service.js";
import { listFailures } from "../src/failures/ledger.js";
import { retryFailures } from "../src/failures/retry.js";
import { INGEST_QUEUE, queueConnection } from "../src/queues/ingest-queue.js";
import { LIFECYCLE_QUEUE, createLifecycleQueue, enqueueBuild } from "../src/queues/lifecycle-queue.js";
import { openRuntime, type Runtime } from "../src/runtime.js";
import { reclaimStalledJobs } from "../src/worker/reclaim.js";
import { startWorkers, type Workers } from "../src/worker/worker.js";
import { testConfig } from "./support/stack.js";
import { until } from "./support/until.js";

/**
 * A job interrupted more often than queue.maxStalledCount (1) allows: BullMQ
 * fails it as it is next taken, without running any of our code. Simulated
 * with BullMQ's own moves: a "ghost" worker takes the job (it goes active
 * under the ghost's lock), the lock vanishes (as when the ghost is killed and
 * its lock expires), BullMQ's stall check takes it back, twice. The lock
 * duration stays at its default (15 s) and the test's timeout is below it:
 * the worker started after the second interruption takes the job up at once.
 */
async function interruptTwice(config: Config, redis: Redis, queueName: string, jobId: string): Promise<void> {
  const ghost = new Worker(queueName, null, { ...queueConnection(config), maxStalledCount: config.queue.maxStalledCount, skipStalledCheck: false });
  await ghost.waitUntilReady();
  try {
    for (let interruption = 1; interruption <= 2; interruption += 1) {
      const job = await ghost.getNextJob(`ghost-${interruption}`, { block: true });
      expect(job?.id).toBe(jobId);
      await redis.del(`${ghost.toKey(jobId)}:lock`); // the ghost died; its claim expired
      if (interruption === 1) {
        await reclaimStalledJobs(ghost, redis);
        await until(async () => ((await redis.lpos(ghost.toKey("active"), jobId)) === null ? true : undefined), "the first interruption to be taken back");
      }
    }
  } finally {
    await ghost.close(true);
  }
}

describe("a job interrupted more often than queue.maxStalledCount", () => {
  let runtime: Runtime | undefined;
  let workers: Workers | undefined;
  let lifecycle: Queue | undefined;

  afterEach(async () => {
    await workers?.close(500);
    await lifecycle?.obliterate({ force: true }).catch(() => undefined);
    await lifecycle?.close();
    await runtime?.queue.obliterate({ force: true }).catch(() => undefined);
    await runtime?.close();
    if (runtime) rmSync(runtime.config.dataDir, { recursive: true, force: true });
    workers = runtime = lifecycle = undefined;
  });

  const open = async () => {
    const config = testConfig({ queue: { backoffMs: 50 } }); // lockDurationMs and stalledIntervalMs at their defaults
    runtime = await openRuntime(config);
    return { config, rt: runtime };
  };

  const upload = async (rt: Runtime, id: string) => {
    const key = uploadKey(randomUUID());
    const text = `# ${id}\n\nThe dock clears error CD-10 after a restart.\n`;
    await rt.store.put(key, text);
    return submitDocument({ config: rt.config, store: rt.store, queue: rt.queue }, { documentId: id, mode: "upsert", upload: { key, size: text.length, filename: `${id}.md`, contentType: "text/markdown" }, tags: [] });
  };

  it("ends its document failed with the reason, within seconds of a worker starting, and the ledger lists it", async () => {
    const { config, rt } = await open();
    const { jobId } = await upload(rt, "stalls");
    await interruptTwice(config, rt.redis, INGEST_QUEUE, jobId);

    workers = await startWorkers(rt);
    expect(workers.inherited).toContain(jobId);
    const document = await until(async () => {
      const d = await getDocument({ store: rt.store }, "stalls");
      return d.status === "failed" ? d : undefined;
    }, "the document to fail");
    expect(document.error).toMatch(/interrupted too many times/);
    expect(await (await rt.queue.getJob(jobId))?.getState()).toBe("failed");

    const [entry] = await until(async () => ((await listFailures(rt.store)).length ? listFailures(rt.store) : undefined), "the ledger entry");
    expect(entry).toMatchObject({ id: "ingest:stalls", kind: "ingest", stage: "queued", class: "transient", quarantined: false, documentVersion: 1, jobId });
    expect(entry?.attempts).toBeGreaterThanOrEqual(1);
    expect(entry?.firstSeen).toBe(entry?.lastSeen);
  });

  it("ends a delete failed with its reason, and `failures retry` deletes the document", async () => {
    const { config, rt } = await open();
    const submitted = await upload(rt, "doomed");
    workers = await startWorkers(rt);
    await until(async () => ((await getDocument({ store: rt.store }, "doomed")).status === "indexed" ? true : undefined), "the document to be indexed");
    await workers.close(500);
    workers = undefined;
    expect(submitted.version).toBe(1);

    const { jobId } = await deleteDocument({ config, store: rt.store, queue: rt.queue }, "doomed");
    await interruptTwice(config, rt.redis, INGEST_QUEUE, jobId);
    workers = await startWorkers(rt);
    const failed = await until(async () => {
      const d = await getDocument({ store: rt.store }, "doomed");
      return d.status === "failed" ? d : undefined;
    }, "the delete to fail");
    expect(failed.error).toMatch(/^delete failed: interrupted too many times/);
    // The ledger entry is written right after the document's state.
    expect(await until(async () => ((await listFailures(rt.store)).length ? (await listFailures(rt.store)).map((e) => e.id) : undefined), "the ledger entry")).toEqual(["delete:doomed"]);

    const [outcome] = await retryFailures({ config, store: rt.store, queue: rt.queue, lifecycleQueue: () => (lifecycle ??= createLifecycleQueue(config)) }, { ids: ["delete:doomed"] });
    expect(outcome?.jobId).toMatch(/^delete-doomed-/);
    await until(async () => ((await getDocument({ store: rt.store }, "doomed").catch(() => undefined)) === undefined ? true : undefined), "the retried delete");
    expect(await listFailures(rt.store)).toEqual([]);
  });

  it("ends a build failed, not building: the version can be retired", async () => {
    const { config, rt } = await open();
    lifecycle = createLifecycleQueue(config);
    // As createAndBuild does: the build job is recorded with the version. A version building with no job recorded is given a fresh
    // one by the next worker to start (buildUnbuiltVersions), which on a busy machine built it before the stalled job was failed.
    const jobId = newBuildJobId("green");
    await createVersion(rt.store, { version: "green", config: {}, actor: "test", maxTopK: config.index.maxTopK, defaultIndexProvider: config.index.provider, buildJobId: jobId });
    await enqueueBuild(lifecycle, "green", jobId);
    await interruptTwice(config, rt.redis, LIFECYCLE_QUEUE, jobId);

    workers = await startWorkers(rt);
    const version = await until(async () => {
      const v = await getVersion(rt.store, "green");
      return v.state === "failed" ? v : undefined;
    }, "the build to fail").catch(async (error: Error) => {
      // Where the job and the version stood, if it ever times out again.
      const job = await lifecycle?.getJob(jobId);
      const detail = { version: (await getVersion(rt.store, "green")).state, job: await job?.getState(), failedReason: job?.failedReason, stalledCounter: job?.stalledCounter, inherited: workers?.inherited };
      throw new Error(`${error.message}: ${JSON.stringify(detail)}`);
    });
    expect(version.error).toMatch(/interrupted too many times/);
    const entries = await until(async () => ((await listFailures(rt.store)).length ? listFailures(rt.store) : undefined), "the ledger entry");
    expect(entries.map((e) => [e.id, e.class])).toEqual([["build:green", "transient"]]);
    const retired = await retire({ store: rt.store, catalog: rt.catalog }, { version: "green", actor: "test" });
    expect(retired.state).toBe("retired");
  });
});
