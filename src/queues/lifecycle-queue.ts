import { quietConnectionErrors } from "./connection-errors.js";
import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { z } from "zod";
import type { Config } from "../../config/schema.js";
import { newBuildJobId } from "../../indexer/lifecycle/versions.js";
import { queueConnection } from "./ingest-queue.js";

/** Index builds and evaluations: long jobs on a queue of their own, so they never hold an ingest slot. */
export const LIFECYCLE_QUEUE = "lifecycle";

export const buildPayloadSchema = z.strictObject({ version: z.string().min(1) });

/** An evaluation of one version on one golden set version (pinned when queued, so a later upload does not change what runs). */
export const evaluatePayloadSchema = z.strictObject({
  version: z.string().min(1),
  goldenSet: z.strictObject({ name: z.string().min(1), version: z.number().int().min(1) }),
  k: z.number().int().min(1).optional(),
  actor: z.string().min(1),
});
export type EvaluatePayload = z.infer<typeof evaluatePayloadSchema>;

/** Drops a retired version's index data where that takes long-running operations (Vertex: undeploy, delete). */
export const retirePayloadSchema = z.strictObject({ version: z.string().min(1) });

/** A reconcile (indexer/reconcile/): of every version following the corpus, or one; repairing or not. `scheduled`: queued by reconcile.cron. */
export const reconcilePayloadSchema = z.strictObject({
  version: z.string().min(1).optional(),
  repair: z.boolean().default(false),
  scheduled: z.boolean().optional(),
  actor: z.string().min(1).optional(),
});
export type ReconcilePayload = z.input<typeof reconcilePayloadSchema>;

/** A batch rebuild of a Vertex version from GCS files (indexer/lifecycle/vertex-rebuild.ts). */
export const rebuildPayloadSchema = z.strictObject({ version: z.string().min(1) });

/** Job ids of the lifecycle queue start with these (GET /v1/jobs/:id finds the queue by the id). */
export const LIFECYCLE_JOB_PREFIXES = ["build-", "evaluate-", "retire-", "rebuild-", "reconcile-"] as const;

export function createLifecycleQueue(config: Config): Queue {
  const { connection, prefix } = queueConnection(config);
  return quietConnectionErrors(new Queue(LIFECYCLE_QUEUE, { connection, prefix, defaultJobOptions: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } }));
}

/** Queues a build; a fixed `jobId` makes racing callers queue one job (BullMQ keeps the first of one id). */
export async function enqueueBuild(queue: Queue, version: string, jobId = newBuildJobId(version)): Promise<string> {
  await queue.add("build", { version }, { jobId });
  return jobId;
}

export async function enqueueEvaluate(queue: Queue, payload: EvaluatePayload): Promise<string> {
  const jobId = `evaluate-${payload.version}-${randomUUID().slice(0, 8)}`;
  await queue.add("evaluate", evaluatePayloadSchema.parse(payload), { jobId });
  return jobId;
}

export async function enqueueRetire(queue: Queue, version: string): Promise<string> {
  const jobId = `retire-${version}-${randomUUID().slice(0, 8)}`;
  await queue.add("retire", retirePayloadSchema.parse({ version }), { jobId });
  return jobId;
}

export async function enqueueReconcile(queue: Queue, payload: ReconcilePayload): Promise<string> {
  const jobId = `reconcile-${randomUUID().slice(0, 8)}`;
  await queue.add("reconcile", reconcilePayloadSchema.parse(payload), { jobId });
  return jobId;
}

/** The job scheduler of reconcile.cron on the lifecycle queue. */
export const RECONCILE_SCHEDULER = "reconcile";

/** Makes the lifecycle queue's reconcile schedule match the config: one at reconcile.cron, none when it is "". */
export async function syncReconcileSchedule(queue: Queue, config: Config): Promise<boolean> {
  if (!config.reconcile.cron) {
    await queue.removeJobScheduler(RECONCILE_SCHEDULER);
    return false;
  }
  await queue.upsertJobScheduler(RECONCILE_SCHEDULER, { pattern: config.reconcile.cron }, { name: "reconcile", data: { repair: config.reconcile.repair, scheduled: true }, opts: { attempts: 1 } });
  return true;
}
/** The job's id names its rebuild directory, so a job run again after a crash finds what it started. */
export async function enqueueRebuild(queue: Queue, version: string): Promise<string> {
  const jobId = `rebuild-${version}-${randomUUID().slice(0, 8)}`;
  await queue.add("rebuild", rebuildPayloadSchema.parse({ version }), { jobId });
  return jobId;
}
