import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import { userInfo } from "node:os";
import { readJob } from "../queues/read-job.js";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import type { Config } from "../../config/schema.js";
import { profileDefaults } from "../../indexer/lifecycle/operations.js";
import { InvalidRequestError } from "../../core/errors.js";
import type { LifecycleDeps } from "../../indexer/lifecycle/operations.js";
import { createLifecycleQueue, enqueueBuild, enqueueRetire } from "../queues/lifecycle-queue.js";
import { openRuntime } from "../runtime.js";
import { configFrom } from "./common.js";

/** What the audit log records for a command run from a terminal. */
export const actor = () => `cli:${userInfo().username}`;

/** The config of `ragops index ...` and `ragops audit`: they print their own report, so logs only warnings. */
export const lifecycleConfigFrom = (command: Command): Config => configFrom(command, { log: { level: "warn" } });

export type CliLifecycle = LifecycleDeps & { lifecycleQueue: Queue; redis: Redis };

/** Runs `fn` with the lifecycle operations' deps, and closes the runtime and the lifecycle queue after. */
export async function withLifecycle<T>(config: Config, fn: (deps: CliLifecycle) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(config);
  const lifecycleQueue = createLifecycleQueue(config);
  try {
    return await fn({ store: runtime.store, catalog: runtime.catalog, lifecycleQueue, redis: runtime.redis, startBuild: (version, jobId) => enqueueBuild(lifecycleQueue, version, jobId), startRetire: (version) => enqueueRetire(lifecycleQueue, version), maxTopK: config.index.maxTopK, defaultIndexProvider: config.index.provider, ...profileDefaults(config) });
  } finally {
    await lifecycleQueue.close();
    await runtime.close();
  }
}

/** Follows a lifecycle job (build or evaluation) to its end with a progress bar over `unit`; returns its result, or throws with the reason it failed. */
export async function followLifecycleJob(deps: CliLifecycle, jobId: string, what: { name: string; unit: string }): Promise<unknown> {
  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: `${what.name === "build" ? "building" : what.name === "rebuild" ? "writing batch files" : "evaluating"} [{bar}] {value}/{total} ${what.unit}`, hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  let started = false;
  for (;;) {
    const found = await readJob((id) => deps.lifecycleQueue.getJob(id), jobId);
    if (!found) throw new InvalidRequestError(`${what.name} job ${jobId} not found`);
    const { job, state } = found;
    const [done, total] = ((job.progress as { detail?: string } | undefined)?.detail ?? "").split(" ")[0]?.split("/").map(Number) ?? [];
    if (bar && total) {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done ?? 0);
    }
    if (state === "completed" || state === "failed") {
      bar?.stop();
      if (state === "failed") throw new Error(`the ${what.name} failed: ${job.failedReason}`);
      return job.returnvalue;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** Follows a build job to its end with a progress bar; throws with the reason when it fails. */
export async function followBuild(deps: CliLifecycle, jobId: string): Promise<void> {
  await followLifecycleJob(deps, jobId, { name: "build", unit: "documents" });
}
