import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { readJob } from "../queues/read-job.js";
import { stat } from "node:fs/promises";
import { basename, relative, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { Job, QueueEvents } from "bullmq";
import { InvalidRequestError, PayloadTooLargeError, errorMessage } from "../../core/errors.js";
import { walkFiles } from "../../core/walk-files.js";
import type { JobProgress } from "../queues/ingest-queue.js";
import { isSupportedFile, resolveContentType } from "./content-types.js";
import { uploadKey } from "../../core/documents.js";
import { submitDocument, type DocumentServiceDeps, type SubmitResult } from "./service.js";

/** Files named on a command line, and directories walked for supported types. */
export interface FoundFile {
  path: string;
  /** Stable id from the path under the root it was found in, so re-ingesting replaces. */
  documentId: string;
}

export async function collectFiles(paths: readonly string[]): Promise<FoundFile[]> {
  const found: FoundFile[] = [];
  for (const given of paths) {
    const path = resolve(given);
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new InvalidRequestError(`no such file or directory: ${given}`);
    if (info.isFile()) found.push({ path, documentId: idFromPath(basename(path)) });
    else {
      for await (const file of walkFiles(path)) {
        if (isSupportedFile(file)) found.push({ path: file, documentId: idFromPath(relative(path, file)) });
      }
    }
  }
  return found.sort((a, b) => a.path.localeCompare(b.path));
}

export function idFromPath(relativePath: string): string {
  const id = relativePath
    .split(/[\\/]+/)
    .join("__")
    .replace(/[^A-Za-z0-9._-]+/g, "-")
    .replace(/^[^A-Za-z0-9]+/, "");
  return (id || `doc-${randomUUID()}`).slice(0, 128);
}

export async function submitFile(deps: DocumentServiceDeps, file: FoundFile, options: { tags?: string[] } = {}): Promise<SubmitResult> {
  const filename = basename(file.path);
  const contentType = resolveContentType(filename);
  const { size, mtimeMs } = await stat(file.path);
  if (size > deps.config.http.maxUploadBytes) throw new PayloadTooLargeError(deps.config.http.maxUploadBytes);
  const key = uploadKey(randomUUID());
  const meta = await deps.store.put(key, createReadStream(file.path), { contentType });
  return submitDocument(deps, {
    documentId: file.documentId,
    mode: "upsert",
    upload: { key, size: meta.size, filename, contentType },
    tags: options.tags ?? [],
    // The same URI `ragops refresh` gives the file, so a later refresh of the folder recognises it.
    source: pathToFileURL(file.path).href,
    fingerprint: { mtimeMs },
  });
}

export interface JobOutcome {
  jobId: string;
  state: "completed" | "failed";
  result?: unknown;
  failedReason?: string;
}

/**
 * Waits for jobs through QueueEvents (subscribed before the jobs were added),
 * checking each job's stored state too, in case it finished before we listened.
 */
export async function waitForJobs(
  events: QueueEvents,
  getJob: (id: string) => Promise<Job | undefined>,
  jobIds: readonly string[],
  onProgress?: (jobId: string, progress: JobProgress | undefined, outcome?: JobOutcome) => void,
): Promise<Map<string, JobOutcome>> {
  const pending = new Set(jobIds);
  const outcomes = new Map<string, JobOutcome>();
  return new Promise((resolvePromise) => {
    const settle = (outcome: JobOutcome) => {
      if (!pending.delete(outcome.jobId)) return;
      outcomes.set(outcome.jobId, outcome);
      onProgress?.(outcome.jobId, undefined, outcome);
      if (pending.size === 0) {
        events.off("completed", completed);
        events.off("failed", failed);
        events.off("progress", progress);
        resolvePromise(outcomes);
      }
    };
    const completed = ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) => settle({ jobId, state: "completed", result: returnvalue });
    const failed = ({ jobId, failedReason }: { jobId: string; failedReason: string }) => settle({ jobId, state: "failed", failedReason });
    const progress = ({ jobId, data }: { jobId: string; data: unknown }) => {
      if (pending.has(jobId)) onProgress?.(jobId, data as JobProgress);
    };
    events.on("completed", completed);
    events.on("failed", failed);
    events.on("progress", progress);
    if (jobIds.length === 0) resolvePromise(outcomes);
    for (const jobId of jobIds) {
      void readJob(getJob, jobId).then(
        (found) => {
          if (!found) return settle({ jobId, state: "failed", failedReason: "job vanished from the queue" });
          const { job, state } = found;
          if (state === "completed") settle({ jobId, state, result: job.returnvalue });
          else if (state === "failed") settle({ jobId, state, failedReason: job.failedReason });
        },
        (error: unknown) => settle({ jobId, state: "failed", failedReason: errorMessage(error) }),
      );
    }
  });
}
