import { createHash } from "node:crypto";
import type { Job } from "bullmq";
import { documentKey, type DocumentRecord } from "../../core/documents.js";
import { ConflictError, errorMessage } from "../../core/errors.js";
import { readJson, updateJson } from "../../core/json-records.js";
import type { Logger } from "../../core/logger.js";
import type { ObjectStore } from "../../core/object-store.js";
import { withRetries } from "../../core/retry.js";
import { appendAudit } from "../../indexer/lifecycle/audit.js";
import { getVersion, moveVersion } from "../../indexer/lifecycle/versions.js";
import { failureClass, failureReason, isRetryableStoreError, recordFailureEntry, type FailureKind } from "../failures/ledger.js";

/**
 * What becomes of a job that failed for good, whoever noticed: the processor
 * (a failure it threw on its last attempt, or one retrying cannot help) or
 * BullMQ without us (a job interrupted more than queue.maxStalledCount
 * times fails as it is next taken, before any processor runs). Either way
 * its document, delete or build ends in a terminal state with the reason,
 * and the failure ledger has an entry.
 *
 * - ingest: the document is `failed` with the reason (unless a newer version
 *   took over: then the superseded upload is deleted); a deterministic failure
 *   quarantines the document's bytes (refresh skips them until they change).
 * - delete: the document is `failed` with "delete failed: …" (its datapoints
 *   stay searchable until a retry: the next refresh that misses the file, or
 *   `ragops failures retry`).
 * - build: the version is `failed` (retirable) with the reason, and audited.
 * - evaluate, retire: the ledger entry.
 */
export interface FinalFailureDeps {
  store: ObjectStore;
  logger: Logger;
}

export type FailedJob = Pick<Job, "id" | "name" | "data" | "progress" | "attemptsMade">;

const STORE_RETRY = { maxAttempts: 8, baseDelayMs: 250, maxDelayMs: 8_000, isRetryable: isRetryableStoreError };

export async function settleFinalFailure(deps: FinalFailureDeps, job: FailedJob, error: unknown, attempts: number): Promise<void> {
  const reason = failureReason(error);
  const cls = failureClass(error);
  const stage = stageOf(job);
  const jobId = job.id;
  const data = (job.data ?? {}) as Record<string, unknown>;
  const kind = job.name as FailureKind;
  switch (job.name) {
    case "ingest": {
      const documentId = String(data.documentId ?? "");
      const version = Number(data.version);
      if (!documentId) return;
      const sha256 = cls === "deterministic" ? await bytesHash(deps.store, String(data.objectKey ?? "")) : undefined;
      const fingerprint = (data.fingerprint ?? {}) as { mtimeMs?: number; generation?: string };
      const current = await markDocumentFailed(deps.store, documentId, version, reason, sha256 ? { ...sha256, ...fingerprint } : undefined, "ingest");
      if (!current) {
        // Superseded while it failed: nobody will ever read this version's bytes.
        const objectKey = String(data.objectKey ?? "");
        const now = await readJson<DocumentRecord>(deps.store, documentKey(documentId)).catch(() => undefined);
        if (objectKey && now?.value.rawKey !== objectKey) await deps.store.delete(objectKey).catch(() => false);
        return;
      }
      await recordFailureEntry(deps.store, { kind, subject: documentId, stage, reason, class: cls, attempts, ...(jobId ? { jobId } : {}), documentVersion: version, ...(sha256 ? { sha256: sha256.sha256 } : {}) });
      return;
    }
    case "delete": {
      const documentId = String(data.documentId ?? "");
      const version = Number(data.version);
      if (!documentId) return;
      const current = await markDocumentFailed(deps.store, documentId, version, `delete failed: ${reason}`, undefined, "delete");
      if (!current) return;
      await recordFailureEntry(deps.store, { kind, subject: documentId, stage, reason, class: cls, attempts, ...(jobId ? { jobId } : {}), documentVersion: version });
      return;
    }
    case "build": {
      const version = String(data.version ?? "");
      if (!version) return;
      await failVersionBuild(deps.store, version, reason);
      await recordFailureEntry(deps.store, { kind, subject: version, stage, reason, class: cls, attempts, ...(jobId ? { jobId } : {}) });
      return;
    }
    case "evaluate":
    case "retire": {
      const version = String(data.version ?? "");
      if (!version) return;
      await recordFailureEntry(deps.store, { kind, subject: version, stage, reason, class: cls, attempts, ...(jobId ? { jobId } : {}) });
      return;
    }
    default:
      deps.logger.warn({ jobId, name: job.name, reason }, "a job failed for good");
  }
}

/** The stage the job last reported (its progress), or "queued" when it reported none. */
function stageOf(job: FailedJob): string {
  const progress = job.progress as { stage?: unknown } | number | undefined;
  return typeof progress === "object" && progress && typeof progress.stage === "string" ? progress.stage : "queued";
}

async function bytesHash(store: ObjectStore, key: string): Promise<{ sha256: string; size: number } | undefined> {
  if (!key) return undefined;
  try {
    const { body } = await store.get(key);
    return { sha256: createHash("sha256").update(body).digest("hex"), size: body.length };
  } catch {
    return undefined;
  }
}

/**
 * Marks the document failed with the reason, if `version` is still its
 * version (and, for a delete, it is still deleting); a deterministic failure
 * also records the quarantined bytes' fingerprint. Returns the record
 * written, or undefined when a newer version took over.
 */
export async function markDocumentFailed(
  store: ObjectStore,
  documentId: string,
  version: number,
  reason: string,
  quarantine: DocumentRecord["quarantine"],
  operation: "ingest" | "delete",
): Promise<DocumentRecord | undefined> {
  const onlyFrom = operation === "delete" ? "deleting" : undefined;
  const { after, before } = await withRetries(
    () =>
      updateJson<DocumentRecord>(store, documentKey(documentId), (current) => {
        if (!current || current.version !== version || (onlyFrom && current.status !== onlyFrom)) return undefined;
        const { quarantine: _previous, ...rest } = current;
        return { ...rest, status: "failed", failedOperation: operation, inLedger: true, error: reason, ...(quarantine ? { quarantine } : {}), updatedAt: new Date().toISOString() };
      }),
    STORE_RETRY,
  );
  return after && after !== before ? after.value : undefined;
}

/** A build that failed without the build noticing (interrupted too often): its version leaves `building` for `failed`, so it can be retired. */
async function failVersionBuild(store: ObjectStore, version: string, reason: string): Promise<void> {
  const record = await getVersion(store, version).catch(() => undefined);
  if (record?.state !== "building") return;
  try {
    await withRetries(() => moveVersion(store, version, "build-failed", { error: reason }), STORE_RETRY);
  } catch (error) {
    if (error instanceof ConflictError) return; // moved meanwhile (another worker settled it)
    throw error;
  }
  await appendAudit(store, { actor: "system:build", action: "build-end", version, reason: `failed: ${reason}` }).catch(() => undefined);
}

export const logSettleError = (logger: Logger, job: FailedJob | undefined) => (error: unknown) =>
  logger.error({ jobId: job?.id, err: errorMessage(error) }, "could not record a final job failure (document, build or ledger); it stays in the queue's failed jobs");
