import { logConnectionErrors } from "../queues/connection-errors.js";
import { Worker, type Job } from "bullmq";
import type { ParsePool } from "../../ingest/parsers/isolated.js";
import { buildVersion } from "../../indexer/lifecycle/build.js";
import type { Committer } from "../../indexer/sync/commit-group.js";
import { LIFECYCLE_QUEUE, buildPayloadSchema, retirePayloadSchema } from "../queues/lifecycle-queue.js";
import type { Runtime } from "../runtime.js";
import { processEvaluate } from "./evaluate-worker.js";
import { processRebuild } from "./rebuild-worker.js";
import { logSettleError, settleFinalFailure } from "./final-failure.js";
import { reclaimStalledJobs } from "./reclaim.js";
import { processReconcile } from "./reconcile-worker.js";
import { countProgress, operationProgress, workerOptions } from "./worker-options.js";

/** Index builds (a green version beside the live one), evaluations, reconciles and the retire of a Vertex version: on the lifecycle queue, one at a time. */
export function startBuildWorker(runtime: Runtime, parser: ParsePool, committer?: Committer): Worker {
  const { config, logger } = runtime;
  const deps = { config, store: runtime.store, redis: runtime.redis, catalog: runtime.catalog, parser, logger, ...(committer ? { committer } : {}) };
  const worker = new Worker(
    LIFECYCLE_QUEUE,
    async (job: Job) => {
      if (job.name === "evaluate") return processEvaluate(runtime, job);
      if (job.name === "rebuild") return processRebuild(runtime, job);
      if (job.name === "reconcile") return processReconcile(runtime, job);
      if (job.name === "retire") {
        const { version } = retirePayloadSchema.parse(job.data);
        await runtime.catalog.destroy(version, (progress) => job.updateProgress(operationProgress(progress)));
        return { version, dropped: true };
      }
      const { version } = buildPayloadSchema.parse(job.data);
      return buildVersion(deps, version, (done, total) => job.updateProgress(countProgress(done, total)), (progress) => job.updateProgress(operationProgress(progress)));
    },
    workerOptions(config, 1),
  );
  worker.on("failed", (job, error) => {
    logger.warn({ jobId: job?.id, reason: error.message }, `${job?.name === "evaluate" ? "evaluation" : job?.name === "retire" ? "dropping a retired version's index" : job?.name === "reconcile" ? "reconcile" : job?.name === "rebuild" ? "rebuild" : "index build"} failed`);
    // Also when BullMQ failed it without running it (interrupted too often): the version must not stay building.
    if (job?.finishedOn) void settleFinalFailure(runtime, job, error, job.attemptsMade).catch(logSettleError(logger, job));
  });
  logConnectionErrors(worker, logger, "lifecycle");
  worker.on("stalled", (jobId) => logger.warn({ jobId }, "lifecycle job interrupted (its worker died or lost its claim): queued again"));
  void worker
    .waitUntilReady()
    .then(() => reclaimStalledJobs(worker, runtime.redis))
    .then(({ reclaimed }) => reclaimed.length && logger.warn({ jobs: reclaimed }, `${reclaimed.length} lifecycle jobs a dead worker left active were taken up`))
    .catch((error: unknown) => logger.warn({ err: error }, "could not look for lifecycle jobs a dead worker left active"));
  return worker;
}
