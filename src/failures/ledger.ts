import { ZodError } from "zod";
import { NotFoundError, errorMessage, isRagopsError } from "../../core/errors.js";
import { readJson, updateJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { withRetries } from "../../core/retry.js";

/**
 * The failure ledger: one record per failed document operation or job, in the
 * object store (`failures/<kind>/<subject>.json`), because Redis (and with it
 * BullMQ's failed set) may be lost. An entry says what failed (an ingest or a
 * delete of a document, a build, evaluation or retire of an index version), at
 * which stage, why, how many attempts it took, and when it was first and last
 * seen. It is removed when the same subject later succeeds.
 *
 * Failures are of two classes. Transient ones (storage, Redis, index or
 * embedder unavailable, a job interrupted too often) were retried with backoff
 * (queue.attempts) before they landed here; `ragops failures retry` tries
 * again. Deterministic ones (a corrupt, encrypted, unsupported or too large
 * file) never get better by retrying: the document is quarantined with the
 * fingerprint of its bytes, and a refresh skips it until those bytes change.
 */
export const FAILURE_KINDS = ["ingest", "delete", "build", "evaluate", "retire"] as const;
export type FailureKind = (typeof FAILURE_KINDS)[number];
export type FailureClass = "transient" | "deterministic";

export interface FailureEntry {
  /** `<kind>:<subject>`, what `ragops failures retry` takes. */
  id: string;
  kind: FailureKind;
  /** The document id (ingest, delete) or the index version (build, evaluate, retire). */
  subject: string;
  /** Where it failed: the job's last reported stage (parsing, chunking, embedding, indexing, ...), or "queued" when it never started. */
  stage: string;
  reason: string;
  class: FailureClass;
  /** A deterministic failure of a document's bytes: refresh skips the document until they change. */
  quarantined: boolean;
  /** Attempts made, over every job that failed for this subject since it last succeeded. */
  attempts: number;
  firstSeen: string;
  lastSeen: string;
  /** The last failed job. */
  jobId?: string;
  /** The document version that failed (ingest, delete). */
  documentVersion?: number;
  /** Of the quarantined bytes. */
  sha256?: string;
  /** When `ragops failures retry` queued it again, and the job it queued. */
  retriedAt?: string;
  retryJobId?: string;
}

export interface FailureReport {
  kind: FailureKind;
  subject: string;
  stage: string;
  reason: string;
  class: FailureClass;
  attempts: number;
  jobId?: string;
  documentVersion?: number;
  sha256?: string;
}

const failureKey = (kind: FailureKind, subject: string) => `failures/${kind}/${subject}.json`;

/** Ledger writes ride out a short storage outage: the failure they record is often that very outage. */
const LEDGER_RETRY = { maxAttempts: 8, baseDelayMs: 250, maxDelayMs: 8_000 };

export const isRetryableStoreError = (error: unknown) => (isRagopsError(error) ? error.retryable : !(error instanceof TypeError));

/** Writes (or updates) the entry of a failure; attempts add up while the subject keeps failing. */
export async function recordFailureEntry(store: ObjectStore, report: FailureReport, now = new Date()): Promise<FailureEntry> {
  const at = now.toISOString();
  const { after } = await withRetries(
    () =>
      updateJson<FailureEntry>(store, failureKey(report.kind, report.subject), (current) => ({
        id: `${report.kind}:${report.subject}`,
        kind: report.kind,
        subject: report.subject,
        stage: report.stage,
        reason: report.reason,
        class: report.class,
        quarantined: report.class === "deterministic" && (report.kind === "ingest"),
        attempts: (current?.attempts ?? 0) + report.attempts,
        firstSeen: current?.firstSeen ?? at,
        lastSeen: at,
        ...(report.jobId ? { jobId: report.jobId } : {}),
        ...(report.documentVersion !== undefined ? { documentVersion: report.documentVersion } : {}),
        ...(report.sha256 ? { sha256: report.sha256 } : {}),
        ...(current?.retriedAt ? { retriedAt: current.retriedAt, ...(current.retryJobId ? { retryJobId: current.retryJobId } : {}) } : {}),
      })),
    { ...LEDGER_RETRY, isRetryable: isRetryableStoreError },
  );
  return after.value;
}

/** Forgets a subject's failure (it succeeded since); false when there was none. */
export async function clearFailure(store: ObjectStore, kind: FailureKind, subject: string): Promise<boolean> {
  return withRetries(() => store.delete(failureKey(kind, subject)), { ...LEDGER_RETRY, isRetryable: isRetryableStoreError });
}

export async function getFailure(store: ObjectStore, id: string): Promise<FailureEntry> {
  const [kind, ...rest] = id.split(":");
  const subject = rest.join(":");
  if (!FAILURE_KINDS.includes(kind as FailureKind) || !subject) throw new NotFoundError(`no failure ${id}: ids are <kind>:<subject> with kind one of ${FAILURE_KINDS.join(", ")} (ragops failures lists them)`);
  const found = await readJson<FailureEntry>(store, failureKey(kind as FailureKind, subject));
  if (!found) throw new NotFoundError(`no failure ${id} in the ledger (ragops failures lists them)`);
  return found.value;
}

/** Notes on an entry that it was queued again. */
export async function markRetried(store: ObjectStore, entry: FailureEntry, retryJobId: string): Promise<void> {
  await updateJson<FailureEntry>(store, failureKey(entry.kind, entry.subject), (current) => (current ? { ...current, retriedAt: new Date().toISOString(), retryJobId } : undefined));
}

/** Every entry, most recently seen first. */
export async function listFailures(store: ObjectStore, options: { kind?: FailureKind } = {}): Promise<FailureEntry[]> {
  const out: FailureEntry[] = [];
  for await (const meta of store.list(options.kind ? `failures/${options.kind}/` : "failures/")) {
    if (!meta.key.endsWith(".json")) continue;
    const found = await readJson<FailureEntry>(store, meta.key);
    if (found) out.push(found.value);
  }
  return out.sort((a, b) => b.lastSeen.localeCompare(a.lastSeen) || a.id.localeCompare(b.id));
}

const DETERMINISTIC_CODES = new Set(["unprocessable_document", "unsupported_media_type", "payload_too_large", "invalid_request"]);

/** Whether retrying can help: the document's own fault (corrupt, encrypted, unsupported, too large) or a malformed job cannot. */
export function failureClass(error: unknown): FailureClass {
  if (error instanceof ZodError) return "deterministic";
  if (isRagopsError(error) && DETERMINISTIC_CODES.has(error.code)) return "deterministic";
  return "transient";
}

/** The reason as a user reads it: the error's message (typed errors already name the problem). */
export function failureReason(error: unknown): string {
  if (error instanceof ZodError) return `invalid job payload: ${error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`;
  const message = errorMessage(error);
  if (/stalled more than allowable limit/.test(message)) {
    return "interrupted too many times: the worker running it died or stopped renewing its claim each time (killed, out of memory, or blocked longer than queue.lockDurationMs); it may crash its worker, check the worker logs before retrying";
  }
  return message;
}
