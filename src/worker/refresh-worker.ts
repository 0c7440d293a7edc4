import { logConnectionErrors } from "../queues/connection-errors.js";
import { Worker, type Job } from "bullmq";
import { runRefresh } from "../documents/refresh.js";
import { createIngestQueueEvents } from "../queues/ingest-queue.js";
import { REFRESH_QUEUE, createRefreshQueue, refreshPayloadSchema, syncRefreshSchedules } from "../queues/refresh-queue.js";
import type { Runtime } from "../runtime.js";
import { openSource } from "../sources/index.js";
import { countProgress, workerOptions } from "./worker-options.js";

export interface RefreshWorker {
  worker: Worker;
  /** Waits for a running refresh, then closes the worker, its queue and the ingest events it listens to. */
  close(): Promise<void>;
}

/**
 * Scheduled refreshes: on a queue of their own, one at a time, each waiting for
 * the ingest jobs it starts. Puts the configured schedules (refresh.cron) on the queue.
 */
export async function startRefreshWorker(runtime: Runtime): Promise<RefreshWorker> {
  const { config, logger } = runtime;
  const refreshQueue = createRefreshQueue(config);
  const events = await createIngestQueueEvents(config);
  const worker = new Worker(
    REFRESH_QUEUE,
    async (job: Job) => {
      const { source, tags } = refreshPayloadSchema.parse(job.data);
      const summary = await runRefresh(runtime, await openSource(source, config), {
        events,
        tags,
        onProgress: (done, total) => void job.updateProgress(countProgress(done, total)),
      });
      logger.info({ ...summary, details: undefined }, `refresh of ${source} done`);
      return summary;
    },
    workerOptions(config, 1),
  );
  worker.on("failed", (job, error) => logger.warn({ jobId: job?.id, reason: error.message }, "refresh failed"));
  logConnectionErrors(worker, logger, "refresh");
  const schedules = await syncRefreshSchedules(refreshQueue, config);
  if (schedules.length) logger.info({ cron: config.refresh.cron, sources: config.refresh.sources }, "refresh scheduled");

  return {
    worker,
    close: async () => {
      await worker.close();
      await events.close();
      await refreshQueue.close();
    },
  };
}
