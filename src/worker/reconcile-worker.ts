import type { Job } from "bullmq";
import { createLifecycleQueue, reconcilePayloadSchema, syncReconcileSchedule } from "../queues/lifecycle-queue.js";
import { reportForJob, reportForLog, runReconcile } from "../reconcile.js";
import type { Runtime } from "../runtime.js";

/** A reconcile job of the lifecycle queue (POST /v1/reconcile, reconcile.cron): its findings are logged and are the job's result. */
export async function processReconcile(runtime: Runtime, job: Job): Promise<ReturnType<typeof reportForJob>> {
  const payload = reconcilePayloadSchema.parse(job.data);
  await job.updateProgress({ stage: payload.repair ? "repairing" : "checking", percent: 0 });
  const report = await runReconcile(runtime, { ...(payload.version ? { version: payload.version } : {}), repair: payload.repair });
  const drift = payload.repair ? !(report.repair?.clean ?? false) : !report.clean;
  const line = `${payload.scheduled ? "scheduled " : ""}reconcile ${report.clean ? "found no drift" : `found ${report.findings.length} differences${report.repair ? `, repaired (${report.repair.remaining.length} remain)` : ""}`}`;
  if (drift) runtime.logger.warn({ jobId: job.id, ...reportForLog(report) }, line);
  else runtime.logger.info({ jobId: job.id, ...reportForLog(report) }, line);
  return reportForJob(report);
}

/** Puts reconcile.cron on the lifecycle queue (or takes it off when ""); every worker does, BullMQ keeps one schedule. */
export async function scheduleReconcile(runtime: Runtime): Promise<void> {
  const queue = createLifecycleQueue(runtime.config);
  try {
    if (await syncReconcileSchedule(queue, runtime.config)) runtime.logger.info({ cron: runtime.config.reconcile.cron, repair: runtime.config.reconcile.repair }, "reconcile scheduled");
  } finally {
    await queue.close();
  }
}
