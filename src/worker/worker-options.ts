import type { WorkerOptions } from "bullmq";
import type { Config } from "../../config/schema.js";
import { queueConnection, type JobProgress } from "../queues/ingest-queue.js";

/** The options every ragops worker shares: its queue's connection and prefix, lock and stall timing. */
export function workerOptions(config: Config, concurrency: number): WorkerOptions {
  const { connection, prefix } = queueConnection(config);
  return { connection, prefix, concurrency, lockDuration: config.queue.lockDurationMs, stalledInterval: config.queue.stalledIntervalMs };
}

/** Progress of a job over many documents (a refresh, a build): done of total, 100 % when there is nothing to do. */
export function countProgress(done: number, total: number): JobProgress {
  return { stage: "indexing", percent: total ? Math.round((100 * done) / total) : 100, detail: `${done}/${total} documents` };
}
