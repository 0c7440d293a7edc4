import { createHash, randomUUID } from "node:crypto";
import { basename } from "node:path";
import type { Readable } from "node:stream";
import type { QueueEvents } from "bullmq";
import { planRefresh, type IndexedFingerprint, type ListedFile } from "../../indexer/sync/plan.js";
import { resolveContentType } from "./content-types.js";
import { idFromPath, waitForJobs, type JobOutcome } from "./ingest-files.js";
import { documentKey, uploadKey, type DocumentRecord } from "../../core/documents.js";
import { deleteDocument, submitDocument } from "./service.js";
import { errorMessage } from "../../core/errors.js";
import type { Runtime } from "../runtime.js";
import { readJson, updateJson } from "../../core/json-records.js";
import type { DocumentSource, SourceEntry } from "../sources/source.js";
import type { SyncCounts } from "../../indexer/sync/sync-document.js";

/**
 * The refresh: bring the corpus in line with a source. Unchanged files cost a
 * stat (same size and modification time) or a read and a hash (same bytes);
 * changed and new files are ingested, vanished ones deleted; every ingest
 * embeds only what the index lacks.
 */
export interface RefreshSummary {
  source: string;
  dryRun: boolean;
  scanned: number;
  unchanged: number;
  changed: number;
  added: number;
  deleted: number;
  failed: number;
  /** Files whose bytes failed in a way retrying cannot help (corrupt, encrypted, unsupported, too large), unchanged since: skipped (`ragops failures` lists them). */
  quarantined: number;
  chunksEmbedded: number;
  indexWrites: number;
  metadataWrites: number;
  indexRemovals: number;
  seconds: number;
  /** Document ids per outcome, and the reason of each failure. */
  details: { changed: string[]; added: string[]; deleted: string[]; quarantined?: string[]; failures: Array<{ documentId: string; reason: string }> };
}

export interface RefreshOptions {
  dryRun?: boolean;
  tags?: string[];
  events: QueueEvents;
  onProgress?: (done: number, total: number, stage: string) => void;
}

export async function runRefresh(runtime: Runtime, source: DocumentSource, options: RefreshOptions): Promise<RefreshSummary> {
  const started = process.hrtime.bigint();
  const { entries, listed } = await listSource(source);
  const records = await recordsFrom(runtime, source.uri);
  const plan = planRefresh(listed, records.map(indexedFingerprint));
  const { changed, unchanged, quarantined } = await confirmSuspects(runtime, source, { entries, records, suspect: plan.suspect, dryRun: options.dryRun ?? false });
  const quarantinedIds = new Set(records.filter(isQuarantined).map((r) => r.id));
  const skippedQuarantined = [...plan.unchanged.filter((f) => quarantinedIds.has(f.documentId)).map((f) => f.documentId), ...quarantined].sort();
  const summary: RefreshSummary = {
    source: source.uri,
    dryRun: options.dryRun ?? false,
    scanned: listed.length,
    unchanged: plan.unchanged.length - (skippedQuarantined.length - quarantined.length) + unchanged,
    changed: changed.length,
    added: plan.added.length,
    deleted: plan.deleted.length,
    failed: 0,
    quarantined: skippedQuarantined.length,
    chunksEmbedded: 0,
    indexWrites: 0,
    metadataWrites: 0,
    indexRemovals: 0,
    seconds: 0,
    details: { changed: changed.map((c) => idFromPath(c.entry.relativePath)), added: plan.added.map((f) => f.documentId), deleted: plan.deleted, quarantined: skippedQuarantined, failures: [] },
  };
  if (options.dryRun) return finish(summary, started);

  const added = plan.added.map((file) => entries.get(file.documentId) as SourceEntry);
  const jobIds = await submitChanges(runtime, source, { changed, added, deleted: plan.deleted, tags: options.tags ?? [] }, summary.details.failures);
  const outcomes = await waitReporting(runtime, options, jobIds);
  tallyOutcomes(summary, outcomes.values());
  return finish(summary, started);
}

/** What the source holds, by document id: the entry to read, and the fingerprint the plan compares. */
async function listSource(source: DocumentSource): Promise<{ entries: Map<string, SourceEntry>; listed: ListedFile[] }> {
  const entries = new Map<string, SourceEntry>();
  const listed: ListedFile[] = [];
  for await (const entry of source.list()) {
    const documentId = idFromPath(entry.relativePath);
    entries.set(documentId, entry);
    listed.push({ uri: entry.uri, documentId, size: entry.size, mtimeMs: entry.mtimeMs, generation: entry.generation });
  }
  return { entries, listed };
}

function indexedFingerprint(record: DocumentRecord): IndexedFingerprint {
  return {
    documentId: record.id,
    source: record.source,
    // A failed document is tried again on every refresh, unless its bytes are quarantined: then it is skipped until they change.
    ...(record.status === "failed" ? (isQuarantined(record) ? record.quarantine : {}) : (record.fingerprint ?? {})),
  };
}

function isQuarantined(record: DocumentRecord): record is DocumentRecord & { quarantine: NonNullable<DocumentRecord["quarantine"]> } {
  return record.status === "failed" && record.quarantine !== undefined;
}

/**
 * A changed fingerprint is not yet a change: compare the bytes. A file with
 * the same bytes is unchanged (and its new fingerprint remembered, unless this
 * is a dry run); the others are changed, with the bytes already read.
 */
async function confirmSuspects(
  runtime: Runtime,
  source: DocumentSource,
  scan: { entries: ReadonlyMap<string, SourceEntry>; records: readonly DocumentRecord[]; suspect: readonly ListedFile[]; dryRun: boolean },
): Promise<{ changed: Changed[]; unchanged: number; quarantined: string[] }> {
  const changed: Changed[] = [];
  const quarantined: string[] = [];
  let unchanged = 0;
  const recordOf = new Map(scan.records.map((r) => [r.id, r]));
  for (const file of scan.suspect) {
    const entry = scan.entries.get(file.documentId) as SourceEntry;
    const bytes = await readAll(await source.read(entry));
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const record = recordOf.get(file.documentId);
    if (record?.status !== "failed" && record?.fingerprint?.sha256 === sha256) {
      unchanged += 1;
      if (!scan.dryRun) await touchFingerprint(runtime, file.documentId, entry);
    } else if (record && isQuarantined(record) && record.quarantine.sha256 === sha256) {
      quarantined.push(file.documentId);
      if (!scan.dryRun) await touchQuarantine(runtime, file.documentId, entry);
    } else changed.push({ entry, bytes });
  }
  return { changed, unchanged, quarantined };
}

interface Changed {
  entry: SourceEntry;
  bytes: Buffer;
}

/**
 * Submits the changed files, then the added ones, then deletes the vanished
 * documents; returns their job ids. A submission that fails goes to `failures`
 * and the refresh goes on.
 */
async function submitChanges(
  runtime: Runtime,
  source: DocumentSource,
  changes: { changed: readonly Changed[]; added: readonly SourceEntry[]; deleted: readonly string[]; tags: string[] },
  failures: RefreshSummary["details"]["failures"],
): Promise<string[]> {
  const { store, config, queue } = runtime;
  const deps = { config, store, queue };
  const jobIds: string[] = [];
  const submit = async (entry: SourceEntry, bytes?: Buffer) => {
    const documentId = idFromPath(entry.relativePath);
    const filename = basename(entry.relativePath);
    try {
      const key = uploadKey(randomUUID());
      const meta = await store.put(key, bytes ?? (await source.read(entry)), { contentType: resolveContentType(filename) });
      const result = await submitDocument(deps, {
        documentId,
        mode: "upsert",
        upload: { key, size: meta.size, filename, contentType: resolveContentType(filename) },
        tags: changes.tags,
        source: entry.uri,
        fingerprint: { ...(entry.mtimeMs !== undefined ? { mtimeMs: entry.mtimeMs } : {}), ...(entry.generation ? { generation: entry.generation } : {}) },
      });
      jobIds.push(result.jobId);
    } catch (error) {
      failures.push({ documentId, reason: errorMessage(error) });
    }
  };
  for (const { entry, bytes } of changes.changed) await submit(entry, bytes);
  for (const entry of changes.added) await submit(entry);
  for (const documentId of changes.deleted) {
    try {
      jobIds.push((await deleteDocument(deps, documentId)).jobId);
    } catch (error) {
      failures.push({ documentId, reason: errorMessage(error) });
    }
  }
  return jobIds;
}

/** Waits for the jobs, reporting done of total as each one ends. */
async function waitReporting(runtime: Runtime, options: RefreshOptions, jobIds: readonly string[]): Promise<Map<string, JobOutcome>> {
  let done = 0;
  options.onProgress?.(0, jobIds.length, "indexing");
  return waitForJobs(options.events, (id) => runtime.queue.getJob(id), jobIds, (_id, _progress, outcome?: JobOutcome) => {
    if (outcome) options.onProgress?.(++done, jobIds.length, "indexing");
  });
}

/** The document a job id names: ingest-<id>-v<version>-<nonce> or delete-<id>-v<version>-<nonce> (see ingest-queue.ts). */
export function documentIdOfJob(jobId: string): string {
  return jobId.replace(/^(ingest|delete)-(.*)-v\d+-[0-9a-f]+$/, "$2");
}

/** Adds the jobs' outcomes to the summary: a failed job's document and reason, a completed job's counts; then the number failed. */
export function tallyOutcomes(summary: RefreshSummary, outcomes: Iterable<JobOutcome>): void {
  for (const outcome of outcomes) {
    if (outcome.state !== "completed") {
      summary.details.failures.push({ documentId: documentIdOfJob(outcome.jobId), reason: outcome.failedReason ?? "failed" });
      continue;
    }
    const counts = outcome.result as Partial<SyncCounts> | undefined;
    summary.chunksEmbedded += counts?.embedded ?? 0;
    summary.indexWrites += counts?.indexWrites ?? 0;
    summary.metadataWrites += counts?.metadataWrites ?? 0;
    summary.indexRemovals += counts?.indexRemovals ?? 0;
  }
  summary.failed = summary.details.failures.length;
}

function finish(summary: RefreshSummary, started: bigint): RefreshSummary {
  summary.seconds = Number((Number(process.hrtime.bigint() - started) / 1e9).toFixed(3));
  return summary;
}

/** Records of documents that came from this source (their source URI lies under its root). */
async function recordsFrom(runtime: Runtime, rootUri: string): Promise<DocumentRecord[]> {
  const prefix = rootUri.endsWith("/") ? rootUri : `${rootUri}/`;
  const records: DocumentRecord[] = [];
  for await (const meta of runtime.store.list("documents/")) {
    const record = (await readJson<DocumentRecord>(runtime.store, meta.key))?.value;
    if (record && record.source.startsWith(prefix) && record.status !== "deleting") records.push(record);
  }
  return records;
}

/** Same bytes, new modification time: remember it, so the next refresh skips the file unread. */
async function touchFingerprint(runtime: Runtime, documentId: string, entry: SourceEntry): Promise<void> {
  await updateJson<DocumentRecord>(runtime.store, documentKey(documentId), (current) =>
    current?.fingerprint ? { ...current, fingerprint: { ...current.fingerprint, size: entry.size, mtimeMs: entry.mtimeMs, generation: entry.generation } } : undefined,
  );
}

async function readAll(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.isBuffer(part) ? part : Buffer.from(part as Uint8Array));
  return Buffer.concat(parts);
}

/** The same quarantined bytes, new modification time: remember it, so the next refresh skips the file unread. */
async function touchQuarantine(runtime: Runtime, documentId: string, entry: SourceEntry): Promise<void> {
  await updateJson<DocumentRecord>(runtime.store, documentKey(documentId), (current) =>
    current?.status === "failed" && current.quarantine ? { ...current, quarantine: { ...current.quarantine, size: entry.size, mtimeMs: entry.mtimeMs, generation: entry.generation } } : undefined,
  );
}
