import type { Queue, Worker } from "bullmq";
import { availableParallelism } from "node:os";
import { createParsePool } from "../../ingest/parsers/isolated.js";
import { createCommitter } from "../../indexer/sync/commit-group.js";
import { buildsToQueue, byProfile } from "../../indexer/lifecycle/catalog.js";
import { patchVersion } from "../../indexer/lifecycle/versions.js";
import { createLifecycleQueue, enqueueBuild } from "../queues/lifecycle-queue.js";
import { rebuildChunkStoreIfMissing } from "../../indexer/sync/chunk-store-rebuild.js";
import { evictionProblem } from "../queues/redis.js";
import { UnavailableError } from "../../core/errors.js";
import { metricsFor, observeWorker } from "../metrics.js";
import { INGEST_QUEUE } from "../queues/ingest-queue.js";
import { LIFECYCLE_QUEUE } from "../queues/lifecycle-queue.js";
import { REFRESH_QUEUE } from "../queues/refresh-queue.js";
import type { Runtime } from "../runtime.js";
import { startBuildWorker } from "./build-worker.js";
import { startIngestWorker } from "./ingest-worker.js";
import { startRefreshWorker } from "./refresh-worker.js";
import { scheduleReconcile } from "./reconcile-worker.js";

/** What `ragops worker` runs: the ingest, refresh and index-build workers, sharing one parse pool. */
export interface Workers {
  /** The ingest worker (document jobs): the one whose events callers and tests follow. */
  worker: Worker;
  /** Ingest jobs a dead worker had left active when these workers started (see reclaim.ts): a command with a built-in worker waits for them too. */
  inherited: string[];
  /**
   * Stops taking jobs; lets running ingest jobs finish for up to graceMs, then
   * releases them to other workers; waits for a running refresh or build; closes the parse pool.
   */
  close(graceMs?: number): Promise<void>;
}

export async function startWorkers(runtime: Runtime, options: { concurrency?: number } = {}): Promise<Workers> {
  const { config } = runtime;
  const concurrency = options.concurrency ?? config.queue.concurrency;
  const eviction = await evictionProblem(runtime.redis);
  if (eviction && config.redis.requireNoEviction) throw new UnavailableError(`${eviction} This worker refuses to start (redis.requireNoEviction, ragops worker --strict).`, { retryable: false });
  if (eviction) runtime.logger.warn(eviction);
  await restoreChunkStores(runtime);
  await restoreEmbeddingLookups(runtime);
  const parser = createParsePool({ processes: parseProcesses(config.ingest.parseProcesses, concurrency), timeoutMs: config.ingest.parseTimeoutMs, maxMemoryMb: config.ingest.parseMaxMemoryMb });
  // One per process: documents of this process's jobs and builds that are ready together share a corpus lease and index writes.
  const committer = createCommitter({ maxGroup: config.sync.commitGroupMax, onGroup: (stats) => runtime.logger.debug(stats, "commit group written") });
  const ingest = await startIngestWorker(runtime, { concurrency, parser, committer });
  const refresh = await startRefreshWorker(runtime);
  const build = startBuildWorker(runtime, parser, committer);
  const metrics = metricsFor(runtime);
  observeWorker(metrics, INGEST_QUEUE, ingest.worker);
  observeWorker(metrics, REFRESH_QUEUE, refresh.worker);
  observeWorker(metrics, LIFECYCLE_QUEUE, build);
  await buildUnbuiltVersions(runtime);
  await scheduleReconcile(runtime);

  return {
    worker: ingest.worker,
    inherited: [...ingest.inherited.reclaimed, ...ingest.inherited.held],
    close: async (graceMs = config.http.shutdownGraceMs) => {
      await ingest.close(graceMs);
      await refresh.close();
      await build.close();
      await parser.close();
    },
  };
}

/**
 * Before taking jobs: a profile whose chunk store is gone (Redis lost its data,
 * or the corpus predates the chunk store) gets it back from its manifests, or
 * search would leave out every hit of it.
 */
async function restoreChunkStores(runtime: Runtime): Promise<void> {
  const { config, store, redis, logger } = runtime;
  const deps = { store, redis, redisPrefix: config.redis.prefix, lock: { ttlMs: config.sync.lockTtlMs, waitMs: config.sync.lockWaitMs } };
  for (const [profile, versions] of byProfile(await runtime.catalog.following())) {
    const rebuilt = await rebuildChunkStoreIfMissing(deps, profile, versions.map((v) => v.index));
    if (rebuilt) logger.warn(rebuilt, "the chunk store was missing: rebuilt it from the manifests (near-duplicate links return as documents are synced again)");
  }
}

/**
 * Before taking jobs: an embedding cache whose Redis lookup is gone (Redis lost
 * its data) gets it back from its shards, and a cache of the old
 * one-object-per-vector layout is packed into shards, or every cached vector
 * would be embedded again. Each cache logs what it restored (a warning with
 * the count); versions sharing an embedder share one cache.
 */
async function restoreEmbeddingLookups(runtime: Runtime): Promise<void> {
  const caches = new Set((await runtime.catalog.following()).map((v) => v.cache));
  for (const cache of caches) await cache.open();
}

/**
 * A version left building without a build job (a fresh Vertex deployment's
 * first version: bootstrapVersions) gets one, and one whose recorded job is
 * not in the queue (its creator died before queuing it) gets that job.
 * Workers starting together, or beside the creator, queue one job: its id is
 * fixed (BullMQ keeps the first of one id).
 */
async function buildUnbuiltVersions(runtime: Runtime): Promise<void> {
  // Opened only when a version is building: most starts have none, and need no queue connection for it.
  let opened: Queue | undefined;
  const queue = () => (opened ??= createLifecycleQueue(runtime.config));
  try {
    const builds = await buildsToQueue(runtime.store, async (jobId) => (await queue().getJob(jobId)) !== undefined);
    for (const { version, jobId: recorded } of builds) {
      const jobId = await enqueueBuild(queue(), version, recorded ?? `build-${version}-first`);
      if (!recorded) await patchVersion(runtime.store, version, { buildJobId: jobId });
      runtime.logger.info({ version, jobId }, recorded ? `index version ${version} is building but its build job ${jobId} is not queued: queued it` : `index version ${version} has no build yet: queued one`);
    }
  } finally {
    await opened?.close();
  }
}

/** Parse processes for a worker: as configured (0: one per CPU core), at most one per job it runs at once. Parsing is CPU-bound; more processes than cores only add memory. */
export function parseProcesses(configured: number, concurrency: number, cores = availableParallelism()): number {
  return Math.max(1, Math.min(concurrency, configured > 0 ? configured : cores));
}
