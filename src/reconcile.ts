import { Job, type Queue } from "bullmq";
import { documentKey, type DocumentRecord } from "../core/documents.js";
import { updateJson } from "../core/json-records.js";
import type { ObjectStore } from "../core/object-store.js";
import { describeFinding, FINDING_KINDS, type Finding } from "../indexer/reconcile/findings.js";
import { reconcile, type ReconcileDeps, type ReconcileOptions, type ReconcileReport } from "../indexer/reconcile/reconcile.js";
import type { DocumentJobs } from "../indexer/reconcile/stuck.js";
import { deleteJobId, enqueueDelete, enqueueIngest, ingestJobId } from "./queues/ingest-queue.js";
import type { Runtime } from "./runtime.js";

/**
 * Reconcile wired to this process's adapters: the ingest queue for stuck
 * documents' jobs. Used by `ragops reconcile`, the lifecycle worker's
 * reconcile jobs (POST /v1/reconcile, reconcile.cron).
 */
export function reconcileDeps(runtime: Pick<Runtime, "store" | "redis" | "config" | "catalog" | "logger" | "queue">): ReconcileDeps {
  return { store: runtime.store, redis: runtime.redis, config: runtime.config, catalog: runtime.catalog, logger: runtime.logger, jobs: documentJobs(runtime.store, runtime.queue) };
}

export function runReconcile(runtime: Parameters<typeof reconcileDeps>[0], options: ReconcileOptions): Promise<ReconcileReport> {
  return reconcile(reconcileDeps(runtime), options);
}

/** A document's jobs on the ingest queue. */
export function documentJobs(store: ObjectStore, queue: Queue): DocumentJobs {
  return {
    state: async (jobId) => {
      const job = await Job.fromId(queue, jobId);
      if (!job) return undefined;
      const state = await job.getState();
      return state === "unknown" ? undefined : state;
    },
    requeue: async (stuck) => {
      const deleting = stuck.status === "deleting";
      const jobId = deleting ? deleteJobId(stuck.id, stuck.version) : ingestJobId(stuck.id, stuck.version);
      // The record first, and only if nobody moved it meanwhile: the job's id is the record's, so a second reconcile sees this job.
      const { after } = await updateJson<DocumentRecord>(store, documentKey(stuck.id), (current) =>
        current && current.version === stuck.version && current.status === stuck.status && current.jobId === stuck.jobId
          ? { ...current, jobId, ...(deleting ? {} : { status: "queued" as const }), updatedAt: new Date().toISOString() }
          : undefined,
      );
      if (!after) return undefined;
      const record = after.value;
      if (deleting) return enqueueDelete(queue, { documentId: record.id, version: record.version }, jobId);
      return enqueueIngest(
        queue,
        {
          documentId: record.id,
          version: record.version,
          objectKey: record.rawKey,
          contentType: record.contentType,
          filename: record.filename,
          ...(record.fingerprint?.mtimeMs !== undefined || record.fingerprint?.generation !== undefined
            ? { fingerprint: { ...(record.fingerprint.mtimeMs !== undefined ? { mtimeMs: record.fingerprint.mtimeMs } : {}), ...(record.fingerprint.generation !== undefined ? { generation: record.fingerprint.generation } : {}) } }
            : {}),
          metadata: { source: record.source, ...(record.title !== undefined ? { title: record.title } : {}), tags: record.tags, ...(record.date !== undefined ? { date: record.date } : {}) },
        },
        jobId,
      );
    },
  };
}

/** Findings kept in a job's result (GET /v1/jobs/:id) per kind; the counts are always whole. */
const RESULT_FINDINGS_PER_KIND = 50;

/** A report small enough for a job's return value: the counts, and the first findings of each kind. Pure. */
export function reportForJob(report: ReconcileReport): ReconcileReport & { truncated: boolean } {
  const cap = (findings: readonly Finding[]) => FINDING_KINDS.flatMap((kind) => findings.filter((f) => f.kind === kind).slice(0, RESULT_FINDINGS_PER_KIND));
  const findings = cap(report.findings);
  const remaining = report.repair ? cap(report.repair.remaining) : [];
  return {
    ...report,
    findings,
    ...(report.repair ? { repair: { ...report.repair, remaining } } : {}),
    truncated: findings.length < report.findings.length || remaining.length < (report.repair?.remaining.length ?? 0),
  };
}

/** One log line's fields: counts, and the first few findings in words. Pure. */
export function reportForLog(report: ReconcileReport): Record<string, unknown> {
  return {
    clean: report.clean,
    counts: report.counts,
    versions: report.versions.map((v) => v.version),
    ...(report.repair ? { repaired: report.repair.applied, remaining: report.repair.remaining.length } : {}),
    first: report.findings.slice(0, 10).map(describeFinding),
    ms: report.ms,
  };
}
