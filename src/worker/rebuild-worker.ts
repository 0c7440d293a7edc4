import type { Job } from "bullmq";
import { rebuildVertexVersion, type RebuildResult } from "../../indexer/lifecycle/vertex-rebuild.js";
import { rebuildPayloadSchema } from "../queues/lifecycle-queue.js";
import type { Runtime } from "../runtime.js";
import { createStagingStore } from "../stores/index.js";
import { operationProgress } from "./worker-options.js";

/** A rebuild job: writes the version's batch files into the staging bucket and follows the updateIndex operation, with progress. */
export async function processRebuild(runtime: Runtime, job: Job): Promise<RebuildResult> {
  const { version } = rebuildPayloadSchema.parse(job.data);
  const staging = createStagingStore(runtime.config);
  try {
    const deps = { config: runtime.config, store: runtime.store, redis: runtime.redis, catalog: runtime.catalog, logger: runtime.logger, staging };
    return await rebuildVertexVersion(deps, version, job.id as string, (progress) =>
      job.updateProgress(
        progress.operation
          ? operationProgress(progress.operation)
          : { stage: progress.phase === "writing" ? "writing-batch-files" : "index-operation", percent: progress.total ? Math.round((100 * progress.done) / progress.total) : 100, detail: `${progress.done}/${progress.total} datapoints` },
      ),
    );
  } finally {
    await staging.close();
  }
}
