import { documentKey, type DocumentRecord } from "../../core/documents.js";
import { readJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { mapBounded } from "../../core/pool.js";
import type { StuckFinding } from "./findings.js";

/**
 * Documents stuck in a state only a job moves them out of. A document is
 * `processing` while its ingest job runs and `deleting` until its delete job
 * removes it; every other state (queued, indexed, failed, and whatever
 * terminal states come later) is left alone. With no live job (the job is
 * gone, finished, or failed for good while the record kept the state: a
 * worker killed between two writes, a queue flushed) nothing will ever move
 * it: a reconcile reports it and a repair queues a new job for the same
 * version.
 */
export const NON_TERMINAL = new Set(["processing", "deleting"]);

/** States of a BullMQ job that will still run (or is running). */
export const LIVE_JOB_STATES = new Set(["waiting", "active", "delayed", "prioritized", "waiting-children", "paused"]);

/** The document jobs a reconcile reads and queues; src/ wires the ingest queue in. */
export interface DocumentJobs {
  /** The job's state; undefined when the queue no longer has it. */
  state(jobId: string): Promise<string | undefined>;
  /** Queues a new job for the record's version (ingest, or delete when it is deleting) and points the record at it; undefined when the record changed meanwhile (nothing queued). */
  requeue(record: DocumentRecord): Promise<string | undefined>;
}

/** Records read at once. */
const READS = 16;

/**
 * Documents in a non-terminal state with no live job. A record changed less
 * than `graceMs` ago is left out: between an upload's record write and its
 * enqueue, the job does not exist yet.
 */
export async function findStuck(store: ObjectStore, jobs: DocumentJobs, options: { now: number; graceMs: number }): Promise<{ findings: StuckFinding[]; records: Map<string, DocumentRecord> }> {
  const keys: string[] = [];
  for await (const meta of store.list("documents/")) if (meta.key.endsWith(".json")) keys.push(meta.key);
  const records = new Map<string, DocumentRecord>();
  const findings = (
    await mapBounded(keys, READS, async (key): Promise<StuckFinding | undefined> => {
      const record = (await readJson<DocumentRecord>(store, key))?.value;
      if (!record || !NON_TERMINAL.has(record.status) || documentKey(record.id) !== key) return undefined;
      if (options.now - Date.parse(record.updatedAt) < options.graceMs) return undefined;
      const state = await jobs.state(record.jobId);
      if (state && LIVE_JOB_STATES.has(state)) return undefined;
      records.set(record.id, record);
      return { kind: "stuck", documentId: record.id, status: record.status, version: record.version, jobId: record.jobId, jobState: state ?? "gone" };
    })
  ).filter((f): f is StuckFinding => f !== undefined);
  return { findings: findings.sort((a, b) => (a.documentId < b.documentId ? -1 : 1)), records };
}
