import { DelayedError, UnrecoverableError, Worker, type Job } from "bullmq";
import { ZodError } from "zod";
import { createParsePool } from "../../ingest/parsers/isolated.js";
import { errorMessage, isRagopsError } from "../../core/errors.js";
import { tryLockDocument } from "../../indexer/sync/document-lock.js";
import { INGEST_QUEUE, createIngestQueueEvents, deletePayloadSchema, ingestPayloadSchema, queueConnection, type JobProgress } from "../queues/ingest-queue.js";
import { REFRESH_QUEUE, createRefreshQueue, refreshPayloadSchema, syncRefreshSchedules } from "../queues/refresh-queue.js";
import { createLocalDirSource } from "../sources/local-dir.js";
import { runRefresh } from "../documents/refresh.js";
import { buildVersion, recordChange } from "../../indexer/lifecycle/build.js";
import { LIFECYCLE_QUEUE, buildPayloadSchema } from "../queues/lifecycle-queue.js";
import type { Runtime } from "../runtime.js";
import { processDelete, processIngest, recordFailure, type DeleteResult, type IngestResult, type JobDeps } from "./jobs.js";

export interface IngestWorker {
  worker: Worker;
  /** Stops taking jobs, lets running ones finish for up to graceMs, then releases them to other workers. */
  close(graceMs?: number): Promise<void>;
}

export async function startIngestWorker(runtime: Runtime, options: { concurrency?: number } = {}): Promise<IngestWorker> {
  const { config, logger } = runtime;
  const concurrency = options.concurrency ?? config.queue.concurrency;
  const parser = createParsePool({ processes: concurrency, timeoutMs: config.ingest.parseTimeoutMs, maxMemoryMb: config.ingest.parseMaxMemoryMb });
  const deps: JobDeps = { config, store: runtime.store, redis: runtime.redis, catalog: runtime.catalog, parser, logger };
  const { connection, prefix } = queueConnection(config);

  const processor = async (job: Job, token?: string): Promise<IngestResult | DeleteResult> => {
    const documentId = typeof job.data?.documentId === "string" ? job.data.documentId : "";
    const lease = documentId ? await tryLockDocument(runtime.redis, config.redis.prefix, documentId, config.sync.lockTtlMs) : undefined;
    if (documentId && !lease) {
      // Another job holds this document: come back shortly rather than interleave with it.
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
      throw await settleFailure(runtime, job, error);
    } finally {
      await lease?.release().catch(() => undefined);
    }
  };

  const worker = new Worker(INGEST_QUEUE, processor, {
    connection,
    prefix,
    concurrency,
    lockDuration: config.queue.lockDurationMs,
    stalledInterval: config.queue.stalledIntervalMs,
    autorun: true,
  });
  worker.on("completed", (job, result: IngestResult | DeleteResult) => logger.info({ jobId: job.id, ...result }, `job ${job.name} completed`));

  // Scheduled refreshes run on a queue of their own, one at a time, and wait for the ingest jobs they start.
  const refreshQueue = createRefreshQueue(config);
  const events = await createIngestQueueEvents(config);
  const refreshWorker = new Worker(
    REFRESH_QUEUE,
    async (job: Job) => {
      const { source, tags } = refreshPayloadSchema.parse(job.data);
      const summary = await runRefresh(runtime, await createLocalDirSource(source), {
        events,
        tags,
        onProgress: (done, total) => void job.updateProgress({ stage: "indexing", percent: total ? Math.round((100 * done) / total) : 100, detail: `${done}/${total} documents` }),
      });
      logger.info({ ...summary, details: undefined }, `refresh of ${source} done`);
      return summary;
    },
    { connection, prefix, concurrency: 1, lockDuration: config.queue.lockDurationMs, stalledInterval: config.queue.stalledIntervalMs },
  );
  refreshWorker.on("failed", (job, error) => logger.warn({ jobId: job?.id, reason: error.message }, "refresh failed"));
  // Index builds, one at a time, on their own queue.
  const buildWorker = new Worker(
    LIFECYCLE_QUEUE,
    async (job: Job) => {
      const { version } = buildPayloadSchema.parse(job.data);
      return buildVersion({ config, store: runtime.store, redis: runtime.redis, catalog: runtime.catalog, parser, logger }, version, (done, total) =>
        job.updateProgress({ stage: "indexing", percent: total ? Math.round((100 * done) / total) : 100, detail: `${done}/${total} documents` }),
      );
    },
    { connection, prefix, concurrency: 1, lockDuration: config.queue.lockDurationMs, stalledInterval: config.queue.stalledIntervalMs },
  );
  buildWorker.on("failed", (job, error) => logger.warn({ jobId: job?.id, reason: error.message }, "index build failed"));
  const schedules = await syncRefreshSchedules(refreshQueue, config);
  if (schedules.length) logger.info({ cron: config.refresh.cron, sources: config.refresh.sources }, "refresh scheduled");
  worker.on("failed", (job, error) => logger.warn({ jobId: job?.id, attemptsMade: job?.attemptsMade, reason: error.message }, `job ${job?.name ?? "?"} failed`));
  worker.on("error", (error) => logger.error({ err: error }, "worker error"));
  await worker.waitUntilReady();
  logger.info({ concurrency: worker.opts.concurrency }, "ingest worker started");

  return {
    worker,
    close: async (graceMs = config.http.shutdownGraceMs) => {
      let timer: NodeJS.Timeout | undefined;
      const forced = new Promise<"timeout">((resolve) => (timer = setTimeout(() => resolve("timeout"), graceMs)));
      const outcome = await Promise.race([worker.close(), forced]);
      clearTimeout(timer);
      if (outcome === "timeout") {
        logger.warn({ graceMs }, "jobs still running after the grace period; releasing them to other workers");
        await worker.close(true);
      }
      await refreshWorker.close();
      await buildWorker.close();
      await events.close();
      await refreshQueue.close();
      await parser.close();
    },
  };
}

/** Decides whether BullMQ may retry, and records the reason on the document when it will not. */
async function settleFailure(runtime: Runtime, job: Job, error: unknown): Promise<unknown> {
  if (error instanceof DelayedError) return error;
  const retryable = !(error instanceof UnrecoverableError) && !(error instanceof ZodError) && (isRagopsError(error) ? error.retryable : true);
  const reason = error instanceof ZodError ? `invalid job payload: ${error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}` : errorMessage(error);
  const lastAttempt = job.attemptsMade + 1 >= (job.opts.attempts ?? 1);
  if ((!retryable || lastAttempt) && job.name === "ingest" && typeof job.data?.documentId === "string") {
    await recordFailure(runtime.store, job.data.documentId, Number(job.data.version), reason).catch((e: unknown) =>
      runtime.logger.error({ err: e }, "could not record the failure on the document"),
    );
  }
  return retryable ? error : new UnrecoverableError(reason);
}
