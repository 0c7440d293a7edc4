import { createHash } from "node:crypto";
import { documentKey, type DocumentRecord } from "../../core/documents.js";
import { UnavailableError } from "../../core/errors.js";
import type { DeletePayload, IngestPayload, JobProgress } from "../queues/ingest-queue.js";
import { readJson, updateJson, writeJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { manifestsOf } from "../../indexer/sync/document-manifest.js";
import { manifestKey, readManifest, type DocumentManifest } from "../../indexer/sync/manifest.js";
import { clearFailure } from "../failures/ledger.js";
import { byProfile, syncDepsFor, type OpenVersion, type PipelineDeps } from "../../indexer/lifecycle/catalog.js";
import { addCounts, emptyCounts, syncDocument, type SyncCounts } from "../../indexer/sync/sync-document.js";

/** What a job needs; the worker wires the adapters in. */
export type JobDeps = PipelineDeps;

export type ReportProgress = (progress: JobProgress) => Promise<void>;

export interface IngestResult extends SyncCounts {
  outcome: "indexed" | "unchanged" | "stale";
  documentId: string;
  version: number;
}

export interface DeleteResult extends SyncCounts {
  outcome: "deleted" | "stale";
  documentId: string;
}

export async function processIngest(deps: JobDeps, payload: IngestPayload, report: ReportProgress): Promise<IngestResult> {
  const { store, config } = deps;
  // A newer upload or a delete superseded this version: its bytes are nobody's now.
  const stale = async (): Promise<IngestResult> => {
    const now = await readJson<DocumentRecord>(store, documentKey(payload.documentId));
    if (now?.value.rawKey !== payload.objectKey) await store.delete(payload.objectKey).catch(() => false);
    return { outcome: "stale", documentId: payload.documentId, version: payload.version, ...emptyCounts() };
  };
  const isCurrent = async () => {
    const record = await readJson<DocumentRecord>(store, documentKey(payload.documentId));
    return record?.value.version === payload.version && record.value.status !== "deleting";
  };
  const record = await readJson<DocumentRecord>(store, documentKey(payload.documentId));
  if (!record || record.value.version !== payload.version || record.value.status === "deleting") return stale();
  await setStatus(store, payload, "processing");

  await report({ stage: "parsing", percent: 5 });
  const { body } = await store.get(payload.objectKey);
  const fingerprint = { size: body.length, sha256: createHash("sha256").update(body).digest("hex"), ...(payload.fingerprint ?? {}) };
  const groups = [...byProfile(await deps.catalog.following())];
  const previous = await Promise.all(groups.map(([profile]) => readManifest(store, profile, payload.documentId)));
  const previousRawKey = previous.find((m) => m !== undefined)?.rawKey;
  // The same bytes and metadata as a profile's indexed version: nothing to parse, embed or write for it.
  const unchanged = previous.map((m) => (m && sameDocument(m, fingerprint.sha256, payload) ? m : undefined));
  const toBuild = groups.filter((_, i) => !unchanged[i]).map(([profile, versions]) => ({ profile, chunking: (versions[0] as OpenVersion).record.config.chunking }));
  const stored = { documentId: payload.documentId, version: payload.version, rawKey: payload.objectKey, filename: payload.filename, contentType: payload.contentType, metadata: payload.metadata, fingerprint };
  const built = await manifestsOf(deps.parser, config.ingest, stored, body, toBuild);
  await report({ stage: "chunking", percent: 20 });
  let total = emptyCounts();
  let changed = false;
  let shown: { manifest: DocumentManifest; counts: SyncCounts } | undefined;
  for (const [i, [profile, versions]] of groups.entries()) {
    const same = unchanged[i];
    if (same) {
      const counts = { ...emptyCounts(), chunks: same.chunks.length, unchanged: same.chunks.length };
      const current = { ...same, version: payload.version, fingerprint: { ...same.fingerprint, ...(payload.fingerprint ?? {}) } };
      // The same bytes under a new version: the manifest follows the version, or a build would find it stale and parse the document again.
      if (same.version !== payload.version) await writeJson(store, manifestKey(profile, payload.documentId), current);
      shown ??= { manifest: current, counts };
      total = addCounts(total, counts);
      continue;
    }
    const next = built.find((m) => m.profile === profile) as DocumentManifest;
    const counts = await syncDocument(syncDepsFor(deps, profile, versions), { documentId: payload.documentId, next, isCurrent, onProgress: report });
    if (counts === "stale") return stale();
    changed = true;
    shown = { manifest: next, counts };
    total = addCounts(total, counts);
  }
  if (!shown) throw new UnavailableError("no index version follows the corpus (all retired or failed); create one with POST /v1/indexes");
  await finish(deps, payload, shown.manifest, shown.counts, previousRawKey);
  await report({ stage: "done", percent: 100, detail: changed ? `${total.chunks} chunks, ${total.embedded} embedded` : "unchanged" });
  return { outcome: changed ? "indexed" : "unchanged", documentId: payload.documentId, version: payload.version, ...total };
}

function sameDocument(previous: DocumentManifest, sha256: string, payload: IngestPayload): boolean {
  const m = payload.metadata;
  return (
    previous.fingerprint.sha256 === sha256 &&
    previous.source === m.source &&
    (m.title === undefined || previous.title === m.title) &&
    (m.date === undefined || previous.date === m.date) &&
    m.tags.every((t) => previous.tags.includes(t))
  );
}

async function finish(deps: JobDeps, payload: IngestPayload, manifest: DocumentManifest, counts: SyncCounts, previousRawKey: string | undefined): Promise<void> {
  const { store } = deps;
  if (previousRawKey && previousRawKey !== payload.objectKey && previousRawKey !== manifest.rawKey) await store.delete(previousRawKey).catch(() => false);
  if (manifest.rawKey !== payload.objectKey) await store.delete(payload.objectKey).catch(() => false); // unchanged: keep the bytes already indexed
  const { before } = await updateJson<DocumentRecord>(store, documentKey(payload.documentId), (current) =>
    current && current.version === payload.version
      ? {
          ...withoutQuarantine(current),
          status: "indexed",
          rawKey: manifest.rawKey,
          contentType: manifest.contentType,
          indexedVersion: payload.version,
          fingerprint: manifest.fingerprint,
          chunkCount: counts.chunks,
          nearDuplicates: counts.nearDuplicates,
          error: undefined,
          updatedAt: new Date().toISOString(),
        }
      : undefined,
  );
  // It failed before (an older version, or this one before a retry): the ledger forgets it.
  if (before?.value.inLedger) await clearFailure(store, "ingest", payload.documentId).catch(() => false);
}

function withoutQuarantine(record: DocumentRecord): DocumentRecord {
  const { quarantine: _quarantine, failedOperation: _failed, inLedger: _inLedger, ...rest } = record;
  return rest;
}

export async function processDelete(deps: JobDeps, payload: DeletePayload): Promise<DeleteResult> {
  const { store } = deps;
  const record = await readJson<DocumentRecord>(store, documentKey(payload.documentId));
  const current = async () => {
    const now = await readJson<DocumentRecord>(store, documentKey(payload.documentId));
    return now?.value.version === payload.version && now.value.status === "deleting";
  };
  if (!record || !(await current())) return { outcome: "stale", documentId: payload.documentId, ...emptyCounts() };
  let total = emptyCounts();
  // The bytes each profile indexed: not always the record's (a newer upload may have failed or been superseded).
  const rawKeys = new Set([record.value.rawKey]);
  for (const [profile, versions] of byProfile(await deps.catalog.following())) {
    const indexed = await readManifest(store, profile, payload.documentId);
    if (indexed) rawKeys.add(indexed.rawKey);
    const counts = await syncDocument(syncDepsFor(deps, profile, versions), { documentId: payload.documentId, next: null, isCurrent: current });
    if (counts === "stale") return { outcome: "stale", documentId: payload.documentId, ...emptyCounts() };
    total = addCounts(total, counts);
  }
  for (const key of rawKeys) await store.delete(key).catch(() => false);
  // The ledger first: once the record is gone, nothing names this document's failures any more.
  await clearFailure(store, "delete", payload.documentId).catch(() => false);
  await clearFailure(store, "ingest", payload.documentId).catch(() => false);
  await store.delete(documentKey(payload.documentId), { ifGenerationMatch: record.generation }).catch(() => false);
  return { outcome: "deleted", documentId: payload.documentId, ...total };
}

async function setStatus(store: ObjectStore, payload: IngestPayload, status: DocumentRecord["status"]): Promise<void> {
  await updateJson<DocumentRecord>(store, documentKey(payload.documentId), (current) =>
    current && current.version === payload.version && current.status !== status ? { ...current, status, updatedAt: new Date().toISOString() } : undefined,
  );
}
