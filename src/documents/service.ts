import type { Queue } from "bullmq";
import type { Config } from "../../config/schema.js";
import { ConflictError, InvalidRequestError, NotFoundError } from "../../core/errors.js";
import { documentIdSchema, enqueueDelete, enqueueIngest, deleteJobId, ingestJobId } from "../queues/ingest-queue.js";
import { readJson, updateJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { readManifest, type ManifestChunk } from "../../indexer/sync/manifest.js";
import { documentKey, type DocumentRecord } from "../../core/documents.js";

/** Upload, replace, read and delete documents: the part shared by HTTP and CLI. */
export interface DocumentServiceDeps {
  config: Config;
  store: ObjectStore;
  queue: Queue;
}

export interface StoredUpload {
  key: string;
  size: number;
  filename: string;
  contentType: string;
}

export interface SubmitRequest {
  documentId: string;
  /** create: fail if the id exists; replace: fail if it does not; upsert: either. */
  mode: "create" | "replace" | "upsert";
  upload: StoredUpload;
  title?: string;
  tags: string[];
  source?: string;
  date?: string;
  /** From a refresh: what the source says of the file (kept on the manifest for the next refresh). */
  fingerprint?: { mtimeMs?: number; generation?: string };
}

export interface SubmitResult {
  documentId: string;
  version: number;
  jobId: string;
  created: boolean;
}

export function parseDocumentId(id: string): string {
  const parsed = documentIdSchema.safeParse(id);
  if (!parsed.success) throw new InvalidRequestError(`invalid document id ${JSON.stringify(id)}: ${parsed.error.issues[0]?.message ?? "bad format"}`);
  return parsed.data;
}

export async function submitDocument(deps: DocumentServiceDeps, request: SubmitRequest): Promise<SubmitResult> {
  const key = documentKey(request.documentId);
  const { record, created, before } = await casUpdate(deps.store, key, (current) => {
    if (current && request.mode === "create") throw new ConflictError(`document ${request.documentId} already exists; use PUT /v1/documents/${request.documentId} to replace it`);
    if (!current && request.mode === "replace") throw new NotFoundError(`document ${request.documentId} does not exist`);
    const version = (current?.version ?? 0) + 1;
    const now = new Date().toISOString();
    return {
      id: request.documentId,
      version,
      status: "queued",
      rawKey: request.upload.key,
      filename: request.upload.filename,
      source: request.source ?? request.upload.filename,
      contentType: request.upload.contentType,
      sizeBytes: request.upload.size,
      ...(request.title ? { title: request.title } : {}),
      tags: request.tags,
      ...(request.date ? { date: request.date } : {}),
      jobId: ingestJobId(request.documentId, version),
      createdAt: current?.createdAt ?? now,
      updatedAt: now,
      ...(current?.indexedVersion !== undefined ? { indexedVersion: current.indexedVersion, chunkCount: current.chunkCount } : {}),
      ...(current?.inLedger ? { inLedger: true } : {}),
    };
  });
  // The upload of a version that failed to ingest is nobody's once a newer one replaces it (no job reads it any more; the indexed bytes are the manifest's).
  if (before?.status === "failed" && before.failedOperation === "ingest" && before.rawKey !== record.rawKey) await deps.store.delete(before.rawKey).catch(() => false);
  const jobId = await enqueueIngest(deps.queue, {
    documentId: record.id,
    version: record.version,
    objectKey: record.rawKey,
    contentType: record.contentType,
    filename: record.filename,
    ...(request.fingerprint ? { fingerprint: request.fingerprint } : {}),
    metadata: { source: record.source, title: record.title, tags: record.tags, date: record.date },
  }, record.jobId);
  return { documentId: record.id, version: record.version, jobId, created };
}

/**
 * Compare-and-swap on a document record, retried when a worker's status update
 * lands in between: two uploads of one id always get distinct versions.
 */
async function casUpdate(store: ObjectStore, key: string, next: (current: DocumentRecord | undefined) => DocumentRecord): Promise<{ record: DocumentRecord; created: boolean; before: DocumentRecord | undefined }> {
  const { before, after } = await updateJson<DocumentRecord>(store, key, next);
  return { record: after.value, created: !before, before: before?.value };
}

export async function getDocument(deps: Pick<DocumentServiceDeps, "store">, documentId: string): Promise<DocumentRecord> {
  const found = await readJson<DocumentRecord>(deps.store, documentKey(parseDocumentId(documentId)));
  if (!found) throw new NotFoundError(`document ${documentId} not found`);
  return found.value;
}

export async function deleteDocument(deps: DocumentServiceDeps, documentId: string): Promise<{ documentId: string; version: number; jobId: string }> {
  const key = documentKey(parseDocumentId(documentId));
  const { record } = await casUpdate(deps.store, key, (current) => {
    if (!current) throw new NotFoundError(`document ${documentId} not found`);
    const version = current.version + 1;
    return { ...current, version, status: "deleting", jobId: deleteJobId(documentId, version), updatedAt: new Date().toISOString() };
  });
  const jobId = await enqueueDelete(deps.queue, { documentId, version: record.version }, record.jobId);
  return { documentId, version: record.version, jobId };
}

export type DocumentChunk = Omit<ManifestChunk, "text"> & {
  /** The indexed chunk that answers for this one: itself, or the chunk it is a near-duplicate of. */
  indexedAs: string;
  nearDuplicateOf?: string;
};

/** A document's chunks as the index holds them, with near-duplicate provenance. */
export async function getDocumentChunks(
  deps: Pick<DocumentServiceDeps, "store"> & { registry: { dupOf(hashes: readonly string[]): Promise<Map<string, string>> }; profile: string },
  documentId: string,
): Promise<{ documentId: string; version: number; chunks: DocumentChunk[] }> {
  await getDocument(deps, documentId);
  const manifest = await readManifest(deps.store, deps.profile, documentId);
  if (!manifest) throw new NotFoundError(`document ${documentId} has no indexed version yet`);
  const dupOf = await deps.registry.dupOf(manifest.chunks.map((c) => c.hash));
  return {
    documentId,
    version: manifest.version,
    chunks: manifest.chunks.map(({ text: _text, ...chunk }) => {
      const canonical = dupOf.get(chunk.hash);
      return { ...chunk, indexedAs: canonical ?? chunk.hash, ...(canonical ? { nearDuplicateOf: canonical } : {}) };
    }),
  };
}
