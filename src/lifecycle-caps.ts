import type { Queue } from "bullmq";
import type { Config } from "../config/schema.js";
import { ConflictError, TooManyRequestsError } from "../core/errors.js";
import type { ObjectStore } from "../core/object-store.js";
import { readAlias } from "../indexer/lifecycle/alias.js";
import { effectiveState, listVersions } from "../indexer/lifecycle/versions.js";

/** A build waiting behind others is worth asking again for about this soon. */
const BUILD_RETRY_AFTER_SECONDS = 60;

/** States of a job that waits for a worker. */
const QUEUED = ["waiting", "delayed", "prioritized"] as const;

/**
 * Before a new index version: at most limits.maxVersions versions that are
 * not retired (each follows the corpus, so each multiplies every content
 * write), and at most limits.maxQueuedBuilds builds waiting. The checks read
 * and then create, so two creates racing at the cap may both pass: the cap
 * bounds cost, it is not an invariant.
 */
export async function checkVersionCaps(deps: { store: ObjectStore; lifecycleQueue: Pick<Queue, "getJobs"> }, limits: Config["limits"]): Promise<void> {
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
