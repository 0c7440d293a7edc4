import type { Queue } from "bullmq";
import type { Config } from "../../config/schema.js";
import { documentKey, type DocumentRecord } from "../../core/documents.js";
import { errorMessage } from "../../core/errors.js";
import { readJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { enqueueRetire } from "../queues/lifecycle-queue.js";
import { deleteDocument, submitDocument } from "../documents/service.js";
import { clearFailure, getFailure, listFailures, markRetried, type FailureEntry } from "./ledger.js";

/**
 * `ragops failures retry`: queues again what failed, and only that. An
 * ingest is submitted again from the bytes that failed (a new version of the
 * document, out of quarantine: an operator's retry overrides it), a delete is
 * queued again, a retire's index teardown is queued again. A failed build or
 * evaluation is not retried in place: the message says what to do instead.
 */
export interface RetryDeps {
  config: Config;
  store: ObjectStore;
  queue: Queue;
  /** The lifecycle queue, opened when a retire is retried. */
  lifecycleQueue(): Queue;
}

export interface RetryOutcome {
  id: string;
  /** The job queued for it. */
  jobId?: string;
  /** Why nothing was queued. */
  skipped?: string;
}

/** `refuse`: why this caller may not retry an entry (its role), or undefined when it may. */
export async function retryFailures(deps: RetryDeps, which: { all: true } | { ids: readonly string[] }, refuse: (entry: FailureEntry) => string | undefined = () => undefined): Promise<RetryOutcome[]> {
  const entries = "all" in which ? await listFailures(deps.store) : await Promise.all(which.ids.map((id) => getFailure(deps.store, id)));
  const out: RetryOutcome[] = [];
  for (const entry of entries) {
    const refused = refuse(entry);
    if (refused) {
      out.push({ id: entry.id, skipped: refused });
      continue;
    }
    try {
      const outcome = await retryOne(deps, entry);
      if (outcome.jobId) await markRetried(deps.store, entry, outcome.jobId);
      out.push(outcome);
    } catch (error) {
      out.push({ id: entry.id, skipped: errorMessage(error) });
    }
  }
  return out;
}

async function retryOne(deps: RetryDeps, entry: FailureEntry): Promise<RetryOutcome> {
  const { id } = entry;
  switch (entry.kind) {
    case "ingest": {
      const record = (await readJson<DocumentRecord>(deps.store, documentKey(entry.subject)))?.value;
      if (!record) return forget(deps, entry, "the document no longer exists");
      if (record.status !== "failed" || record.failedOperation === "delete") return { id, skipped: `the document is ${record.status === "failed" ? "failed to delete" : record.status} now (version ${record.version})` };
      if (!(await deps.store.head(record.rawKey))) return { id, skipped: "the failed version's bytes are gone from the object store; upload the document again" };
      const fingerprint = record.quarantine ? { ...(record.quarantine.mtimeMs !== undefined ? { mtimeMs: record.quarantine.mtimeMs } : {}), ...(record.quarantine.generation ? { generation: record.quarantine.generation } : {}) } : undefined;
      const submitted = await submitDocument(deps, {
        documentId: record.id,
        mode: "replace",
        upload: { key: record.rawKey, size: record.sizeBytes, filename: record.filename, contentType: record.contentType },
        ...(record.title ? { title: record.title } : {}),
        tags: record.tags,
        source: record.source,
        ...(record.date ? { date: record.date } : {}),
        ...(fingerprint ? { fingerprint } : {}),
      });
      return { id, jobId: submitted.jobId };
    }
    case "delete": {
      const record = (await readJson<DocumentRecord>(deps.store, documentKey(entry.subject)))?.value;
      if (!record) return forget(deps, entry, "the document is deleted already");
      return { id, jobId: (await deleteDocument(deps, entry.subject)).jobId };
    }
    case "retire":
      return { id, jobId: await enqueueRetire(deps.lifecycleQueue(), entry.subject) };
    case "build":
      return { id, skipped: `a failed build is not resumed: retire ${entry.subject} (ragops index retire ${entry.subject}) and create a new version` };
    case "evaluate":
      return { id, skipped: `queue a new evaluation: ragops eval ${entry.subject} --golden <set>` };
  }
}

async function forget(deps: RetryDeps, entry: FailureEntry, why: string): Promise<RetryOutcome> {
  await clearFailure(deps.store, entry.kind, entry.subject);
  return { id: entry.id, skipped: `${why}; removed from the ledger` };
}
