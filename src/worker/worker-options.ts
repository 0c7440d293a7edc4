import type { WorkerOptions } from "bullmq";
import type { Config } from "../../config/schema.js";
import type { ResourceProgress } from "../../indexer/lifecycle/vertex-resources.js";
import { queueConnection, RETRY_BACKOFF, type JobProgress } from "../queues/ingest-queue.js";

/** The options every ragops worker shares: its queue's connection and prefix, lock and stall timing, and the jittered retry backoff. */
export function workerOptions(config: Config, concurrency: number): WorkerOptions {
  const { connection, prefix } = queueConnection(config);
  return {
    connection,
    prefix,
    concurrency,
    lockDuration: config.queue.lockDurationMs,
    stalledInterval: config.queue.stalledIntervalMs,
    maxStalledCount: config.queue.maxStalledCount,
    settings: { backoffStrategy: (attemptsMade: number, type?: string) => (type === RETRY_BACKOFF ? retryDelay(attemptsMade, config.queue) : 0) },
  };
}

/**
 * The wait before retry number `retry` (1-based): between half the ceiling and
 * the ceiling, the ceiling min(backoffMaxMs, backoffMs × 2^(retry − 1)). Half
 * of it is certain, so a job's retries span a known least time (a storage
 * outage shorter than that fails nothing); the other half is random, so jobs
 * failed together by one outage do not all come back at once.
 */
export function retryDelay(retry: number, policy: { backoffMs: number; backoffMaxMs: number }, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.backoffMaxMs, policy.backoffMs * 2 ** Math.min(Math.max(retry, 1) - 1, 40));
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** The least time `attempts` attempts of one job span in retry delays: what an outage must outlast to fail it. */
export function leastRetrySpanMs(policy: { attempts: number; backoffMs: number; backoffMaxMs: number }): number {
  let total = 0;
  for (let retry = 1; retry < policy.attempts; retry += 1) total += retryDelay(retry, policy, () => 0);
  return total;
}

/** Progress of a job over many documents (a refresh, a build): done of total, 100 % when there is nothing to do. */
export function countProgress(done: number, total: number): JobProgress {
  return { stage: "indexing", percent: total ? Math.round((100 * done) / total) : 100, detail: `${done}/${total} documents` };
}

/** Progress of a job waiting on a long-running index operation (a Vertex deploy): which one, how many polls, how long. */
export function operationProgress(progress: ResourceProgress): JobProgress {
  return { stage: "index-operation", percent: 0, detail: `${progress.version}: ${progress.step} ${progress.operation} (poll ${progress.polls}, ${Math.round(progress.elapsedMs / 1000)} s)` };
}
