import { randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { readJob } from "../queues/read-job.js";
import { stat } from "node:fs/promises";
import { basename, extname, relative, resolve } from "node:path";
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

/** A file under a folder that no parser reads: left out, and said so. */
export interface SkippedFile {
  path: string;
  reason: string;
}

/**
 * Files named on the command line (each taken, whatever its type: the upload
 * says why it is refused), and every file under a named folder that a parser
 * reads; the folder's other files come back as skipped.
 */
export async function collectFiles(paths: readonly string[]): Promise<{ files: FoundFile[]; skipped: SkippedFile[] }> {
  const found: FoundFile[] = [];
  const skipped: SkippedFile[] = [];
  for (const given of paths) {
    const path = resolve(given);
    const info = await stat(path).catch(() => undefined);
    if (!info) throw new InvalidRequestError(`no such file or directory: ${given}`);
    if (info.isFile()) found.push({ path, documentId: idFromPath(basename(path)) });
    else {
      for await (const file of walkFiles(path)) {
        if (isSupportedFile(file)) found.push({ path: file, documentId: idFromPath(relative(path, file)) });
        else skipped.push({ path: file, reason: extname(file) ? `no parser reads ${extname(file).toLowerCase()} files` : "no parser reads files without an extension" });
      }
    }
  }
  const byPath = (a: { path: string }, b: { path: string }) => a.path.localeCompare(b.path);
  return { files: found.sort(byPath), skipped: skipped.sort(byPath) };
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

export type JobListener = (jobId: string, progress: JobProgress | undefined, outcome?: JobOutcome) => void;

/** Jobs followed while they are being submitted; see watchJobs. */
export interface JobWatch {
  /** Follows a job just enqueued. */
  add(jobId: string): void;
  /** No more jobs will be added: `ended` resolves once every added job has ended. */
  seal(): void;
  /** Stops waiting: `ended` resolves at once with the jobs that ended so far. */
  stop(): void;
  /** Each ended job's outcome, by job id, in the order they ended. */
  readonly ended: Promise<Map<string, JobOutcome>>;
}

/**
 * Follows jobs through QueueEvents (subscribed before the jobs were added) as
 * they are added, so a long submission already shows progress; each job's
 * stored state is read when it is added too, in case it ended before we
 * listened. `onEvent` hears each progress report and each ending.
 */
export function watchJobs(events: QueueEvents, getJob: (id: string) => Promise<Job | undefined>, onEvent?: JobListener): JobWatch {
  const pending = new Set<string>();
  const outcomes = new Map<string, JobOutcome>();
  let sealed = false;
  let finished = false;
  let resolveEnded!: (outcomes: Map<string, JobOutcome>) => void;
  const ended = new Promise<Map<string, JobOutcome>>((resolvePromise) => (resolveEnded = resolvePromise));
  const finish = () => {
    if (finished) return;
    finished = true;
    events.off("completed", completed);
    events.off("failed", failed);
    events.off("progress", progress);
    resolveEnded(outcomes);
  };
  const settle = (outcome: JobOutcome) => {
    if (finished || !pending.delete(outcome.jobId)) return;
    outcomes.set(outcome.jobId, outcome);
    onEvent?.(outcome.jobId, undefined, outcome);
    if (sealed && pending.size === 0) finish();
  };
  const completed = ({ jobId, returnvalue }: { jobId: string; returnvalue: unknown }) => settle({ jobId, state: "completed", result: returnvalue });
  const failed = ({ jobId, failedReason }: { jobId: string; failedReason: string }) => settle({ jobId, state: "failed", failedReason });
  const progress = ({ jobId, data }: { jobId: string; data: unknown }) => {
    if (!finished && pending.has(jobId)) onEvent?.(jobId, data as JobProgress);
  };
  events.on("completed", completed);
  events.on("failed", failed);
  events.on("progress", progress);
  return {
    add: (jobId) => {
      if (finished) return;
      pending.add(jobId);
      void readJob(getJob, jobId).then(
        (found) => {
          if (!found) return settle({ jobId, state: "failed", failedReason: "job vanished from the queue" });
          const { job, state } = found;
          if (state === "completed") settle({ jobId, state, result: job.returnvalue });
          else if (state === "failed") settle({ jobId, state, failedReason: job.failedReason });
        },
        (error: unknown) => settle({ jobId, state: "failed", failedReason: errorMessage(error) }),
      );
    },
    seal: () => {
      sealed = true;
      if (pending.size === 0) finish();
    },
    stop: finish,
    ended,
  };
}

/** Waits for jobs already enqueued (see watchJobs). */
export async function waitForJobs(events: QueueEvents, getJob: (id: string) => Promise<Job | undefined>, jobIds: readonly string[], onProgress?: JobListener): Promise<Map<string, JobOutcome>> {
  const watch = watchJobs(events, getJob, onProgress);
  for (const jobId of jobIds) watch.add(jobId);
  watch.seal();
  return watch.ended;
}

/**
 * Before a command with a built-in worker exits: the jobs a dead worker had
 * left active (an earlier run killed mid-way) have been taken up by this
 * run's worker or are about to be (their claim expires within
 * queue.lockDurationMs); wait until each ends, or the run would report
 * success while documents stay `processing` or `deleting`. Returns how many
 * failed.
 */
export async function waitForInheritedJobs(events: QueueEvents, getJob: (id: string) => Promise<Job | undefined>, jobIds: readonly string[], notify: (count: number) => void): Promise<number> {
  if (jobIds.length === 0) return 0;
  notify(jobIds.length);
  const outcomes = await waitForJobs(events, getJob, jobIds);
  return [...outcomes.values()].filter((o) => o.state === "failed").length;
}

export const announceInherited = (count: number) => console.error(`waiting for ${count} jobs an interrupted run left active (taken up by this run's worker)`);
