import { createHash } from "node:crypto";
import type { Redis } from "ioredis";
import type { Config } from "../../config/schema.js";
import { chunkDocument } from "../../ingest/chunk-document.js";
import type { ParsePool } from "../../ingest/parsers/isolated.js";
import { documentKey, type DocumentRecord } from "../documents/records.js";
import { UnprocessableDocumentError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { DeletePayload, IngestPayload, JobProgress } from "../queues/ingest-queue.js";
import { readJson, updateJson } from "../stores/json-records.js";
import type { ObjectStore } from "../stores/object-store.js";
import { manifestChunks, readManifest, type DocumentManifest } from "../sync/manifest.js";
import type { ChunkRegistry } from "../sync/registry.js";
import { emptyCounts, syncDocument, type SyncCounts, type SyncTarget } from "../sync/sync-document.js";

/** What a job needs; the worker wires the adapters in. */
export interface JobDeps {
  config: Config;
  store: ObjectStore;
  redis: Redis;
  targets: SyncTarget[];
  registry: ChunkRegistry;
  profile: string;
  parser: ParsePool;
  logger: Logger;
}

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
  const previous = await readManifest(store, deps.profile, payload.documentId);
  if (previous && sameDocument(previous, fingerprint.sha256, payload)) {
    // The same bytes and metadata as the indexed version: nothing to parse, embed or write.
    const refreshed = { ...previous, fingerprint: { ...previous.fingerprint, ...(payload.fingerprint ?? {}) } };
    await finish(deps, payload, refreshed, { ...emptyCounts(), chunks: previous.chunks.length, unchanged: previous.chunks.length }, previous.rawKey);
    await report({ stage: "done", percent: 100, detail: "unchanged" });
    return { outcome: "unchanged", documentId: payload.documentId, version: payload.version, ...emptyCounts(), chunks: previous.chunks.length, unchanged: previous.chunks.length };
  }
  const parsed = await deps.parser.parse(body, {
    filename: payload.filename,
    contentType: payload.contentType,
    zipLimits: { maxEntries: config.ingest.zipMaxEntries, maxUncompressedBytes: config.ingest.zipMaxUncompressedBytes },
  });

  await report({ stage: "chunking", percent: 20 });
  const meta = { documentId: payload.documentId, version: payload.version, contentType: parsed.contentType, ...payload.metadata };
  const chunks = chunkDocument(parsed, meta, config.chunking);
  if (chunks.length === 0) throw new UnprocessableDocumentError("the document has no text to index");
  const first = chunks[0] as (typeof chunks)[number];
  const next: DocumentManifest = {
    documentId: payload.documentId,
    version: payload.version,
    profile: deps.profile,
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

  const counts = await syncDocument(deps, { documentId: payload.documentId, next, isCurrent, onProgress: report });
  if (counts === "stale") return stale();
  await finish(deps, payload, next, counts, previous?.rawKey);
  await report({ stage: "done", percent: 100, detail: `${counts.chunks} chunks, ${counts.embedded} embedded` });
  return { outcome: "indexed", documentId: payload.documentId, version: payload.version, ...counts };
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
  const counts = await syncDocument(deps, { documentId: payload.documentId, next: null, isCurrent: current });
  if (counts === "stale") return { outcome: "stale", documentId: payload.documentId, ...emptyCounts() };
  await store.delete(record.value.rawKey).catch(() => false);
  await store.delete(documentKey(payload.documentId), { ifGenerationMatch: record.generation }).catch(() => false);
  return { outcome: "deleted", documentId: payload.documentId, ...counts };
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
