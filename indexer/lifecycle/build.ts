import type { Redis } from "ioredis";
import { mapBounded } from "../../core/pool.js";
import type { Config } from "../../config/schema.js";
import { appendAudit } from "./audit.js";
import { moveVersion, patchVersion } from "./versions.js";
import { documentKey, type DocumentRecord } from "../../core/documents.js";
import { errorMessage, isRagopsError } from "../../core/errors.js";
import { tryLockDocument } from "../sync/document-lock.js";
import { readJson } from "../../core/json-records.js";
import { manifestsOf } from "../sync/document-manifest.js";
import { readManifest, type DocumentManifest } from "../sync/manifest.js";
import { addCounts, emptyCounts, syncDocument, type SyncCounts } from "../sync/sync-document.js";
import { syncDepsFor, type OpenVersion, type PipelineDeps } from "./catalog.js";
import type { ResourceProgress } from "./vertex-resources.js";
import { FilterProbeError, noProbeCandidates, noteProbeCandidate, runFilterProbes, summarizeProbes, type FilterProbeReport } from "../evaluation/filter-probes.js";

/**
 * Builds a new ("green") index version beside the live one.
 *
 * The version exists (state building) before the build starts, so every job
 * that starts from then on syncs into it too. The build notes its position in
 * the change log, syncs every indexed document into the version (only: the
 * other versions already hold it), taking each document's lease so it never
 * interleaves with a job for the same document, then replays every document
 * the log shows changing after its start position: a job that began before the
 * version existed and ended during the build is not lost. It ends with the
 * filter self-test (../evaluation/filter-probes.ts): an index that ignores a
 * filter fails the build, with the namespace named in the version's error.
 */
export type BuildDeps = PipelineDeps;

const changeLogKey = (config: Config) => `${config.redis.prefix}:changes`;

/** Appended by every ingest and delete job once it has committed. */
export async function recordChange(redis: Redis, config: Config, documentId: string): Promise<void> {
  await redis.xadd(changeLogKey(config), "MAXLEN", "~", "100000", "*", "doc", documentId);
}

export interface BuildResult {
  version: string;
  documents: number;
  chunks: number;
  datapoints: number;
  embedded: number;
  replayed: number;
  /** Documents this version leaves out because their bytes cannot be indexed under its settings and the ingest limits (as a job would refuse them). */
  failed: BuildFailure[];
  /** The filter self-test the build ended with (0 probes when the index is empty); a failed probe fails the build instead. */
  filterProbes: FilterProbeReport;
}

export interface BuildFailure {
  documentId: string;
  reason: string;
}

export async function buildVersion(deps: BuildDeps, version: string, report: (done: number, total: number) => Promise<void> | void, onResource?: (progress: ResourceProgress) => Promise<void> | void): Promise<BuildResult> {
  const { store, config } = deps;
  // A Vertex version's index is created and deployed first (long-running, resumed by name after a restart); jobs skip the version until then.
  try {
    await deps.catalog.prepare(version, onResource);
  } catch (error) {
    await failBuild(store, version, error);
    throw error;
  }
  const target = await deps.catalog.open(version);
  try {
    const start = await deps.redis.xadd(changeLogKey(config), "*", "build", version);
    const ids: string[] = [];
    for await (const meta of store.list("documents/")) ids.push(meta.key.slice("documents/".length, -".json".length));
    let counts = emptyCounts();
    const failures = new Map<string, string>();
    const pinned = target.record.config.filter;
    // The few documents the filter probes will sample, noted on the way (no extra reads).
    let candidates = noProbeCandidates(pinned);
    const add = (outcome: SyncOutcome, documentId: string) => {
      if ("failed" in outcome) failures.set(documentId, outcome.failed);
      else {
        failures.delete(documentId);
        counts = addCounts(counts, outcome.counts);
        if (outcome.indexed) candidates = noteProbeCandidate(candidates, outcome.indexed, pinned);
      }
    };
    let done = 0;
    let progressWrites: Promise<unknown> = Promise.resolve();
    // Several documents at once: while some parse or embed, others write, and those ready together share a commit group.
    await mapBounded(ids, config.sync.buildConcurrency, async (id) => {
      add(await syncOne(deps, target, id), id);
      const doneNow = ++done;
      await report(doneNow, ids.length);
      // Visible on the version too (GET /v1/indexes/:v, ragops index show), every few documents; one write after another, so the count never goes back.
      if (doneNow % 10 === 0 || doneNow === ids.length) await (progressWrites = progressWrites.then(() => patchVersion(store, version, { progress: { done: doneNow, total: ids.length } })));
    });
    // Catch up with what changed while the build ran.
    const changed = new Set((await deps.redis.xrange(changeLogKey(config), `(${start}`, "+")).flatMap(([, fields]) => (fields[0] === "doc" ? [fields[1] as string] : [])));
    for (const id of changed) add(await syncOne(deps, target, id), id);
    const datapoints = await target.index.count();
    const failed = [...failures].map(([documentId, reason]) => ({ documentId, reason }));
    for (const f of failed) deps.logger.warn({ version, ...f }, `index version ${version} leaves out document ${f.documentId}`);
    const filterProbes = await runFilterProbes(store, target, candidates, pinned);
    if (filterProbes.failed > 0) throw new FilterProbeError(filterProbes);
    const result: BuildResult = { version, documents: ids.length, chunks: counts.chunks, datapoints, embedded: counts.embedded, replayed: changed.size, failed, filterProbes };
    await moveVersion(store, version, "build-succeeded", { builtAt: new Date().toISOString(), counts: { documents: ids.length, chunks: counts.chunks, datapoints } });
    await appendAudit(store, { actor: "system:build", action: "build-end", version, reason: `${ids.length} documents, ${datapoints} datapoints, ${counts.embedded} embedded; ${summarizeProbes(filterProbes)}${failed.length ? `; ${failed.length} failed: ${failed.map((f) => `${f.documentId} (${f.reason})`).join(", ")}` : ""}` });
    deps.logger.info(result, `index version ${version} built`);
    return result;
  } catch (error) {
    await failBuild(store, version, error);
    throw error;
  }
}

async function failBuild(store: BuildDeps["store"], version: string, error: unknown): Promise<void> {
  const reason = errorMessage(error);
  await moveVersion(store, version, "build-failed", { error: reason }).catch(() => undefined);
  await appendAudit(store, { actor: "system:build", action: "build-end", version, reason: `failed: ${reason}` }).catch(() => undefined);
}

/** What syncing one document did: its counts (and the document, when the version holds it), or why the version leaves it out. */
type SyncOutcome = { counts: SyncCounts; indexed?: DocumentRecord } | { failed: string };

/** One document into the version being built, under the document's lease. */
async function syncOne(deps: BuildDeps, target: OpenVersion, documentId: string): Promise<SyncOutcome> {
  const lease = await waitForDocument(deps, documentId);
  try {
    const record = (await readJson<DocumentRecord>(deps.store, documentKey(documentId)))?.value;
    const syncDeps = syncDepsFor(deps, target.profile, [target]);
    const current = async () => true;
    if (!record || record.status === "deleting" || record.indexedVersion === undefined) {
      // Gone (or never indexed): make sure the version does not hold it either.
      const gone = await syncDocument(syncDeps, { documentId, next: null, isCurrent: current });
      return { counts: gone === "stale" ? emptyCounts() : { ...gone, chunks: 0 } };
    }
    let next: DocumentManifest;
    try {
      next = await manifestOf(deps, target, record);
    } catch (error) {
      // The document's own fault (a zip bomb, a corrupt file): this version goes without it, as a job would; anything else fails the build.
      if (isRagopsError(error) && error.code === "unprocessable_document") return { failed: error.message };
      throw error;
    }
    const counts = await syncDocument(syncDeps, { documentId, next, isCurrent: current });
    return counts === "stale" ? { counts: emptyCounts() } : { counts, indexed: record };
  } finally {
    await lease.release();
  }
}

/** The document as this version's chunking profile has it: its manifest when the profile already holds this version of the bytes, else made anew as an ingest job makes it. */
async function manifestOf(deps: BuildDeps, target: OpenVersion, record: DocumentRecord): Promise<DocumentManifest> {
  const existing = await readManifest(deps.store, target.profile, record.id);
  if (existing && existing.version === record.indexedVersion && existing.fingerprint.sha256 === record.fingerprint?.sha256) return existing;
  const { body } = await deps.store.get(record.rawKey);
  const stored = {
    documentId: record.id,
    version: record.indexedVersion ?? record.version,
    rawKey: record.rawKey,
    filename: record.filename,
    contentType: record.contentType,
    metadata: { source: record.source, title: record.title, tags: record.tags, date: record.date },
    fingerprint: record.fingerprint ?? { size: body.length, sha256: "" },
  };
  const [manifest] = await manifestsOf(deps.parser, deps.config.ingest, stored, body, [{ profile: target.profile, chunking: target.record.config.chunking }]);
  return manifest as DocumentManifest;
}

async function waitForDocument(deps: BuildDeps, documentId: string) {
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    const lease = await tryLockDocument(deps.redis, deps.config.redis.prefix, documentId, deps.config.sync.lockTtlMs);
    if (lease) return lease;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}


