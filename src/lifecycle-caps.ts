import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../config/schema.js";
import { ConflictError, TooManyRequestsError } from "../core/errors.js";
import type { ObjectStore } from "../core/object-store.js";
import { readAlias } from "../indexer/lifecycle/alias.js";
import { effectiveState, listVersions } from "../indexer/lifecycle/versions.js";
import { withCorpusLease } from "../indexer/sync/corpus-lock.js";

/** A build waiting behind others is worth asking again for about this soon. */
const BUILD_RETRY_AFTER_SECONDS = 60;

/** States of a job that waits for a worker. */
const QUEUED = ["waiting", "delayed", "prioritized"] as const;

/**
 * Before a new index version: at most limits.maxVersions versions that are
 * not retired (each follows the corpus, so each multiplies every content
 * write), and at most limits.maxQueuedBuilds builds waiting.
 */
async function checkVersionCaps(deps: { store: ObjectStore; lifecycleQueue: Pick<Queue, "getJobs"> }, limits: Config["limits"]): Promise<void> {
  const [versions, { alias }] = await Promise.all([listVersions(deps.store), readAlias(deps.store)]);
  const active = versions.filter((v) => effectiveState(v, alias) !== "retired");
  if (active.length >= limits.maxVersions) {
    throw new ConflictError(
      `${active.length} index versions are not retired (${active.map((v) => v.version).join(", ")}) and limits.maxVersions is ${limits.maxVersions}: retire one (POST /v1/indexes/<version>/retire, ragops index retire) or raise limits.maxVersions (RAGOPS_MAX_VERSIONS)`,
      { limit: "limits.maxVersions", maxVersions: limits.maxVersions, versions: active.map((v) => v.version) },
    );
  }
  const queued = (await deps.lifecycleQueue.getJobs([...QUEUED], 0, 999)).filter((job) => job?.name === "build");
  if (queued.length >= limits.maxQueuedBuilds) {
    throw new TooManyRequestsError(
      `${queued.length} index builds are waiting for a worker and limits.maxQueuedBuilds is ${limits.maxQueuedBuilds}: wait for one to start (retry after ${BUILD_RETRY_AFTER_SECONDS} s) or raise limits.maxQueuedBuilds (RAGOPS_MAX_QUEUED_BUILDS)`,
      BUILD_RETRY_AFTER_SECONDS,
      { limit: "limits.maxQueuedBuilds", maxQueuedBuilds: limits.maxQueuedBuilds, queued: queued.map((job) => job.id) },
    );
  }
}

/** Creates of versions wait for one another this long at most. */
const CREATE_LEASE = { ttlMs: 30_000, waitMs: 30_000 };

export interface CapsDeps {
  store: ObjectStore;
  lifecycleQueue: Pick<Queue, "getJobs">;
  redis: Redis;
  redisPrefix: string;
}

/**
 * Checks the caps and creates the version (`create`: its record and its
 * queued build) under one Redis lease shared by every control plane and CLI,
 * so creates racing at the cap cannot all pass the check before any of them
 * has created: the caps hold however many callers race.
 */
export async function createWithinVersionCaps<T>(deps: CapsDeps, limits: Config["limits"], create: () => Promise<T>): Promise<T> {
  return withCorpusLease(deps.redis, `${deps.redisPrefix}:lifecycle:create:lock`, CREATE_LEASE, async () => {
    await checkVersionCaps(deps, limits);
    return create();
  });
}
