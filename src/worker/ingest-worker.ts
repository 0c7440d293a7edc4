import { logConnectionErrors } from "../queues/connection-errors.js";
import { DelayedError, UnrecoverableError, Worker, type Job } from "bullmq";
import { ZodError } from "zod";
import { isRagopsError } from "../../core/errors.js";
import type { Committer } from "../../indexer/sync/commit-group.js";
import type { ParsePool } from "../../ingest/parsers/isolated.js";
import { recordChange } from "../../indexer/lifecycle/build.js";
import { tryLockDocument } from "../../indexer/sync/document-lock.js";
import { INGEST_QUEUE, deletePayloadSchema, ingestPayloadSchema, type JobProgress } from "../queues/ingest-queue.js";
import type { Runtime } from "../runtime.js";
import { processDelete, processIngest, type DeleteResult, type IngestResult, type JobDeps } from "./jobs.js";
import { logSettleError, settleFinalFailure } from "./final-failure.js";
import { failureReason } from "../failures/ledger.js";
import { reclaimStalledJobs } from "./reclaim.js";
import { workerOptions } from "./worker-options.js";

export interface IngestWorker {
  worker: Worker;
  /** Jobs a dead worker had left active when this one started: taken up at once (reclaimed), or still locked (held). */
  inherited: { reclaimed: string[]; held: string[] };
  /** Stops taking jobs, lets running ones finish for up to graceMs, then releases them to other workers. */
  close(graceMs: number): Promise<void>;
}

/** The ingest queue's worker: ingest and delete jobs, one document at a time per document, `concurrency` at once. */
export async function startIngestWorker(runtime: Runtime, options: { concurrency: number; parser: ParsePool; committer?: Committer }): Promise<IngestWorker> {
  const { config, logger } = runtime;
  const deps: JobDeps = { config, store: runtime.store, redis: runtime.redis, catalog: runtime.catalog, parser: options.parser, logger, ...(options.committer ? { committer: options.committer } : {}) };
  // Jobs whose final failure the processor already settled (this process); the others (BullMQ failed them without us) are settled on the failed event.
  const settled = new Set<string>();
  const worker = new Worker(INGEST_QUEUE, ingestProcessor(runtime, deps, settled), { ...workerOptions(config, options.concurrency), autorun: true });
  worker.on("completed", (job, result: IngestResult | DeleteResult) => logger.info({ jobId: job.id, ...result }, `job ${job.name} completed`));
  worker.on("failed", (job, error) => {
    logger.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, reason: error.message }, `job ${job?.name ?? "?"} failed`);
    if (!job?.id || !job.finishedOn) return; // will be retried
    if (settled.delete(job.id)) return;
    void settleFinalFailure(runtime, job, error, job.attemptsMade).catch(logSettleError(logger, job));
  });
  worker.on("stalled", (jobId) => logger.warn({ jobId }, "job interrupted (its worker died or lost its claim): queued again"));
  logConnectionErrors(worker, logger, "ingest");
  await worker.waitUntilReady();
  const inherited = await reclaimStalledJobs(worker, runtime.redis);
  if (inherited.reclaimed.length) logger.warn({ jobs: inherited.reclaimed }, `${inherited.reclaimed.length} jobs a dead worker left active were taken up`);
  logger.info({ concurrency: worker.opts.concurrency }, "ingest worker started");

  return {
    worker,
    inherited,
    close: async (graceMs) => {
      let timer: NodeJS.Timeout | undefined;
      const forced = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), graceMs)));
      const outcome = await Promise.race([worker.close(), forced]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        logger.warn({ graceMs }, "jobs still running after the grace period; releasing them to other workers");
        await worker.close(true);
      }
    },
  };
}

/**
 * Runs one ingest or delete job under the document's lease: a job whose
 * document another job holds comes back shortly rather than interleave with it.
 */
function ingestProcessor(runtime: Runtime, deps: JobDeps, settled: Set<string>) {
  const { config } = runtime;
  return async (job: Job, token?: string): Promise<IngestResult | DeleteResult> => {
    const documentId = typeof job.data?.documentId === "string" ? job.data.documentId : "";
    const lease = documentId ? await tryLockDocument(runtime.redis, config.redis.prefix, documentId, config.sync.lockTtlMs) : undefined;
    if (documentId && !lease) {
      await job.moveToDelayed(Date.now() + 200 + Math.floor(Math.random() * 300), token);
      throw new DelayedError();
    }
    try {
      if (job.name === "ingest") {
        const payload = ingestPayloadSchema.parse(job.data);
        const result = await processIngest(deps, payload, (progress: JobProgress) => job.updateProgress({ ...progress }));
        await recordChange(runtime.redis, config, payload.documentId);
        return result;
      }
      if (job.name === "delete") {
        const result = await processDelete(deps, deletePayloadSchema.parse(job.data));
        await recordChange(runtime.redis, config, result.documentId);
        return result;
      }
      throw new UnrecoverableError(`unknown job name "${job.name}"`);
    } catch (error) {
      throw await settleFailure(runtime, job, error, settled);
    } finally {
      await lease?.release().catch(() => undefined);
    }
  };
}

/** Decides whether BullMQ may retry, and settles the failure (document, ledger) when it will not. */
async function settleFailure(runtime: Runtime, job: Job, error: unknown, settled: Set<string>): Promise<unknown> {
  if (error instanceof DelayedError) return error;
  const retryable = !(error instanceof UnrecoverableError) && !(error instanceof ZodError) && (isRagopsError(error) ? error.retryable : true);
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  if (!retryable || lastAttempt) {
    try {
      await settleFinalFailure(runtime, job, error, job.attemptsMade + 1);
      if (job.id) settled.add(job.id);
    } catch (e) {
      logSettleError(runtime.logger, job)(e); // the failed event tries again
    }
  }
  return retryable ? error : new UnrecoverableError(failureReason(error));
}
