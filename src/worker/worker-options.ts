import type { WorkerOptions } from "bullmq";
import type { Config } from "../../config/schema.js";
import type { ResourceProgress } from "../../indexer/lifecycle/vertex-resources.js";
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

/** Progress of a job waiting on a long-running index operation (a Vertex deploy): which one, how many polls, how long. */
export function operationProgress(progress: ResourceProgress): JobProgress {
  return { stage: "index-operation", percent: 0, detail: `${progress.version}: ${progress.step} ${progress.operation} (poll ${progress.polls}, ${Math.round(progress.elapsedMs / 1000)} s)` };
}
