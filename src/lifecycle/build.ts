import type { Redis } from "ioredis";
import type { Config } from "../../config/schema.js";
import { chunkDocument } from "../../ingest/chunk-document.js";
import { appendAudit } from "../../indexer/lifecycle/audit.js";
import { moveVersion, patchVersion } from "../../indexer/lifecycle/versions.js";
import { documentKey, type DocumentRecord } from "../documents/records.js";
import { errorMessage } from "../errors.js";
import { tryLockDocument } from "../queues/document-lock.js";
import { readJson } from "../stores/json-records.js";
import { manifestChunks, readManifest, type DocumentManifest } from "../sync/manifest.js";
import { addCounts, emptyCounts, syncDocument, type SyncCounts } from "../sync/sync-document.js";
import { syncDepsFor, type OpenVersion, type PipelineDeps } from "./catalog.js";

/**
 * Builds a new ("green") index version beside the live one.
 *
 * The version exists (state building) before the build starts, so every job
 * that starts from then on syncs into it too. The build notes its position in
 * the change log, syncs every indexed document into the version (only: the
 * other versions already hold it), taking each document's lease so it never
 * interleaves with a job for the same document, then replays every document
 * the log shows changing after its start position: a job that began before the
 * version existed and ended during the build is not lost.
 */
export type BuildDeps = PipelineDeps;

export const changeLogKey = (config: Config) => `${config.redis.prefix}:changes`;

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
}

export async function buildVersion(deps: BuildDeps, version: string, report: (done: number, total: number) => Promise<void> | void): Promise<BuildResult> {
  const { store, config } = deps;
  const target = await deps.catalog.open(version);
  try {
    const start = await deps.redis.xadd(changeLogKey(config), "*", "build", version);
    const ids: string[] = [];
    for await (const meta of store.list("documents/")) ids.push(meta.key.slice("documents/".length, -".json".length));
    let counts = emptyCounts();
    let done = 0;
    for (const id of ids) {
      counts = addCounts(counts, await syncOne(deps, target, id));
      await report(++done, ids.length);
      // Visible on the version too (GET /v1/indexes/:v, ragops index show), every few documents.
      if (done % 10 === 0 || done === ids.length) await patchVersion(store, version, { progress: { done, total: ids.length } });
    }
    // Catch up with what changed while the build ran.
    const changed = new Set((await deps.redis.xrange(changeLogKey(config), `(${start}`, "+")).flatMap(([, fields]) => (fields[0] === "doc" ? [fields[1] as string] : [])));
    for (const id of changed) counts = addCounts(counts, await syncOne(deps, target, id));
    const datapoints = await target.index.count();
    const result: BuildResult = { version, documents: ids.length, chunks: counts.chunks, datapoints, embedded: counts.embedded, replayed: changed.size };
    await moveVersion(store, version, "build-succeeded", { builtAt: new Date().toISOString(), counts: { documents: ids.length, chunks: counts.chunks, datapoints } });
    await appendAudit(store, { actor: "system:build", action: "build-end", version, reason: `${ids.length} documents, ${datapoints} datapoints, ${counts.embedded} embedded` });
    deps.logger.info(result, `index version ${version} built`);
    return result;
  } catch (error) {
    const reason = errorMessage(error);
    await moveVersion(store, version, "build-failed", { error: reason }).catch(() => undefined);
    await appendAudit(store, { actor: "system:build", action: "build-end", version, reason: `failed: ${reason}` }).catch(() => undefined);
    throw error;
  }
}

/** One document into the version being built, under the document's lease. */
async function syncOne(deps: BuildDeps, target: OpenVersion, documentId: string): Promise<SyncCounts> {
  const lease = await waitForDocument(deps, documentId);
  try {
    const record = (await readJson<DocumentRecord>(deps.store, documentKey(documentId)))?.value;
    const syncDeps = syncDepsFor(deps, target.profile, [target]);
    const current = async () => true;
    if (!record || record.status === "deleting" || record.indexedVersion === undefined) {
      // Gone (or never indexed): make sure the version does not hold it either.
      const gone = await syncDocument(syncDeps, { documentId, next: null, isCurrent: current });
      return gone === "stale" ? emptyCounts() : { ...gone, chunks: 0 };
    }
    const next = await manifestOf(deps, target, record);
    const counts = await syncDocument(syncDeps, { documentId, next, isCurrent: current });
    return counts === "stale" ? emptyCounts() : counts;
  } finally {
    await lease.release();
  }
}

/** The document as this version's chunking profile has it: its manifest when the profile already holds this version of the bytes, else parsed and chunked anew. */
async function manifestOf(deps: BuildDeps, target: OpenVersion, record: DocumentRecord): Promise<DocumentManifest> {
  const existing = await readManifest(deps.store, target.profile, record.id);
  if (existing && existing.version === record.indexedVersion && existing.fingerprint.sha256 === record.fingerprint?.sha256) return existing;
  const { body } = await deps.store.get(record.rawKey);
  const parsed = await deps.parser.parse(body, { filename: record.filename, contentType: record.contentType });
  const chunks = chunkDocument(parsed, { documentId: record.id, version: record.version, source: record.source, contentType: parsed.contentType, title: record.title, tags: record.tags, date: record.date }, target.record.config.chunking);
  const first = chunks[0];
  return {
    documentId: record.id,
    version: record.indexedVersion ?? record.version,
    profile: target.profile,
    source: record.source,
    rawKey: record.rawKey,
    fingerprint: record.fingerprint ?? { size: body.length, sha256: "" },
    title: first?.title ?? record.title ?? record.filename,
    contentType: parsed.contentType,
    tags: first?.tags ?? record.tags,
    ...(first?.date ? { date: first.date } : {}),
    chunks: manifestChunks(chunks),
    indexedAt: new Date().toISOString(),
  };
}

async function waitForDocument(deps: BuildDeps, documentId: string) {
  for (let delay = 20; ; delay = Math.min(delay * 2, 500)) {
    const lease = await tryLockDocument(deps.redis, deps.config.redis.prefix, documentId, deps.config.sync.lockTtlMs);
    if (lease) return lease;
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}


