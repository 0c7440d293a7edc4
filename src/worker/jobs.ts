import { createHash } from "node:crypto";
import { chunkDocument } from "../../ingest/chunk-document.js";
import { documentKey, type DocumentRecord } from "../documents/records.js";
import { UnavailableError, UnprocessableDocumentError } from "../errors.js";
import type { DeletePayload, IngestPayload, JobProgress } from "../queues/ingest-queue.js";
import { readJson, updateJson } from "../stores/json-records.js";
import type { ObjectStore } from "../stores/object-store.js";
import { manifestChunks, readManifest, type DocumentManifest } from "../sync/manifest.js";
import { byProfile, syncDepsFor, type OpenVersion, type PipelineDeps } from "../lifecycle/catalog.js";
import type { ParsedDocument } from "../../ingest/types.js";
import type { ChunkingConfig } from "../../config/schema.js";
import { addCounts, emptyCounts, syncDocument, type SyncCounts } from "../sync/sync-document.js";

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
  const groups = byProfile(await deps.catalog.following());
  let parsed: ParsedDocument | undefined;
  let total = emptyCounts();
  let changed = false;
  let shown: { manifest: DocumentManifest; counts: SyncCounts } | undefined;
  let previousRawKey: string | undefined;
  for (const [profile, versions] of groups) {
    const previous = await readManifest(store, profile, payload.documentId);
    previousRawKey ??= previous?.rawKey;
    if (previous && sameDocument(previous, fingerprint.sha256, payload)) {
      // The same bytes and metadata as this profile's indexed version: nothing to parse, embed or write.
      const counts = { ...emptyCounts(), chunks: previous.chunks.length, unchanged: previous.chunks.length };
      shown ??= { manifest: { ...previous, fingerprint: { ...previous.fingerprint, ...(payload.fingerprint ?? {}) } }, counts };
      total = addCounts(total, counts);
      continue;
    }
    parsed ??= await deps.parser.parse(body, {
      filename: payload.filename,
      contentType: payload.contentType,
      zipLimits: { maxEntries: config.ingest.zipMaxEntries, maxUncompressedBytes: config.ingest.zipMaxUncompressedBytes },
    });
    await report({ stage: "chunking", percent: 20 });
    const next = manifestFor(payload, parsed, profile, (versions[0] as OpenVersion).record.config.chunking, fingerprint);
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

function manifestFor(payload: IngestPayload, parsed: ParsedDocument, profile: string, chunking: ChunkingConfig, fingerprint: DocumentManifest["fingerprint"]): DocumentManifest {
  const meta = { documentId: payload.documentId, version: payload.version, contentType: parsed.contentType, ...payload.metadata };
  const chunks = chunkDocument(parsed, meta, chunking);
  if (chunks.length === 0) throw new UnprocessableDocumentError("the document has no text to index");
  const first = chunks[0] as (typeof chunks)[number];
  return {
    documentId: payload.documentId,
    version: payload.version,
    profile,
    source: payload.metadata.source,
    rawKey: payload.objectKey,
    fingerprint,
    title: first.title,
    contentType: parsed.contentType,
    tags: first.tags,
    ...(first.date ? { date: first.date } : {}),
    chunks: manifestChunks(chunks),
    indexedAt: new Date().toISOString(),
  };
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
  await updateJson<DocumentRecord>(store, documentKey(payload.documentId), (current) =>
    current && current.version === payload.version
      ? {
          ...current,
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
  for (const [profile, versions] of byProfile(await deps.catalog.following())) {
    const counts = await syncDocument(syncDepsFor(deps, profile, versions), { documentId: payload.documentId, next: null, isCurrent: current });
    if (counts === "stale") return { outcome: "stale", documentId: payload.documentId, ...emptyCounts() };
    total = addCounts(total, counts);
  }
  await store.delete(record.value.rawKey).catch(() => false);
  await store.delete(documentKey(payload.documentId), { ifGenerationMatch: record.generation }).catch(() => false);
  return { outcome: "deleted", documentId: payload.documentId, ...total };
}

/** Records a final failure on the document, unless a newer version took over meanwhile. */
export async function recordFailure(store: ObjectStore, documentId: string, version: number, reason: string): Promise<void> {
  await updateJson<DocumentRecord>(store, documentKey(documentId), (current) =>
    current && current.version === version ? { ...current, status: "failed", error: reason, updatedAt: new Date().toISOString() } : undefined,
  );
}

async function setStatus(store: ObjectStore, payload: IngestPayload, status: DocumentRecord["status"]): Promise<void> {
  await updateJson<DocumentRecord>(store, documentKey(payload.documentId), (current) =>
    current && current.version === payload.version && current.status !== status ? { ...current, status, updatedAt: new Date().toISOString() } : undefined,
  );
}
