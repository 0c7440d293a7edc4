import type { Config } from "../../config/schema.js";
import type { Embedder } from "../../indexer/embedders/embedder.js";
import type { Datapoint, VectorIndex } from "../../indexer/indexes/vector-index.js";
import { chunkDocument } from "../../ingest/chunk-document.js";
import type { ParsePool } from "../../ingest/parsers/isolated.js";
import type { Chunk } from "../../ingest/types.js";
import { UnprocessableDocumentError } from "../errors.js";
import type { Logger } from "../logger.js";
import type { DeletePayload, IngestPayload, JobProgress } from "../queues/ingest-queue.js";
import { readJson, updateJson, writeJson } from "../stores/json-records.js";
import type { ObjectStore } from "../stores/object-store.js";
import { documentKey, manifestKey, type DocumentManifest, type DocumentRecord, type ManifestChunk } from "../documents/records.js";

/** What a job needs; the worker wires the adapters in. */
export interface JobDeps {
  config: Config;
  store: ObjectStore;
  embedder: Embedder;
  index: VectorIndex;
  parser: ParsePool;
  logger: Logger;
}

export type ReportProgress = (progress: JobProgress) => Promise<void>;

export interface IngestResult {
  outcome: "indexed" | "stale";
  documentId: string;
  version: number;
  chunks: number;
  embedded: number;
  removed: number;
}

export interface DeleteResult {
  outcome: "deleted" | "stale";
  documentId: string;
  removed: number;
}

/** Datapoint id: stable for the same text of the same document, so a retried job overwrites rather than duplicates. */
export const datapointId = (documentId: string, hash: string) => `${documentId}:${hash.slice(0, 32)}`;

export async function processIngest(deps: JobDeps, payload: IngestPayload, report: ReportProgress): Promise<IngestResult> {
  const { store, config } = deps;
  const record = await readJson<DocumentRecord>(store, documentKey(payload.documentId));
  if (!record || record.value.version !== payload.version || record.value.status === "deleting") {
    // A newer upload or a delete superseded this version: its bytes are nobody's now.
    if (record?.value.rawKey !== payload.objectKey) await store.delete(payload.objectKey).catch(() => false);
    return { outcome: "stale", documentId: payload.documentId, version: payload.version, chunks: 0, embedded: 0, removed: 0 };
  }
  await setStatus(store, payload, "processing");

  await report({ stage: "parsing", percent: 5 });
  const { body } = await store.get(payload.objectKey);
  const parsed = await deps.parser.parse(body, {
    filename: payload.filename,
    contentType: payload.contentType,
    zipLimits: { maxEntries: config.ingest.zipMaxEntries, maxUncompressedBytes: config.ingest.zipMaxUncompressedBytes },
  });

  await report({ stage: "chunking", percent: 15 });
  const chunks = uniqueByHash(
    chunkDocument(
      parsed,
      { documentId: payload.documentId, version: payload.version, contentType: parsed.contentType, ...payload.metadata },
      config.chunking,
    ),
  );
  if (chunks.length === 0) throw new UnprocessableDocumentError("the document has no text to index");

  const vectors: Float32Array[] = [];
  const batchSize = config.embedder.batchSize;
  for (let i = 0; i < chunks.length; i += batchSize) {
    const batch = chunks.slice(i, i + batchSize);
    vectors.push(...(await deps.embedder.embed(batch.map((c) => c.text), { purpose: "document" })));
    await report({ stage: "embedding", percent: 20 + Math.round((60 * Math.min(i + batchSize, chunks.length)) / chunks.length), detail: `${Math.min(i + batchSize, chunks.length)}/${chunks.length} chunks` });
  }

  await report({ stage: "indexing", percent: 85 });
  const datapoints = chunks.map((chunk, i): Datapoint => toDatapoint(chunk, vectors[i] as Float32Array));
  await deps.index.upsert(datapoints);
  const previous = await readJson<DocumentManifest>(store, manifestKey(payload.documentId));
  const keep = new Set(datapoints.map((d) => d.id));
  const obsolete = (previous?.value.chunks ?? []).map((c) => c.id).filter((id) => !keep.has(id));
  if (obsolete.length) await deps.index.remove(obsolete);

  const manifest: DocumentManifest = {
    documentId: payload.documentId,
    version: payload.version,
    rawKey: payload.objectKey,
    indexVersion: config.index.version,
    chunks: chunks.map(toManifestChunk),
    indexedAt: new Date().toISOString(),
  };
  await writeJson(store, manifestKey(payload.documentId), manifest);
  if (previous && previous.value.rawKey !== payload.objectKey) await store.delete(previous.value.rawKey).catch(() => false);

  await updateJson<DocumentRecord>(store, documentKey(payload.documentId), (current) =>
    current && current.version === payload.version
      ? { ...current, status: "indexed", contentType: parsed.contentType, indexedVersion: payload.version, chunkCount: chunks.length, error: undefined, updatedAt: new Date().toISOString() }
      : undefined,
  );
  await report({ stage: "done", percent: 100, detail: `${chunks.length} chunks` });
  return { outcome: "indexed", documentId: payload.documentId, version: payload.version, chunks: chunks.length, embedded: chunks.length, removed: obsolete.length };
}

export async function processDelete(deps: JobDeps, payload: DeletePayload): Promise<DeleteResult> {
  const { store } = deps;
  const record = await readJson<DocumentRecord>(store, documentKey(payload.documentId));
  if (!record || record.value.version !== payload.version || record.value.status !== "deleting") {
    return { outcome: "stale", documentId: payload.documentId, removed: 0 };
  }
  const manifest = await readJson<DocumentManifest>(store, manifestKey(payload.documentId));
  const ids = manifest?.value.chunks.map((c) => c.id) ?? [];
  if (ids.length) await deps.index.remove(ids);
  // Also by document id: a crash between an index write and its manifest can leave datapoints the manifest does not list.
  const strays = await deps.index.removeWhere({ documentIds: [payload.documentId] });
  if (manifest) await store.delete(manifestKey(payload.documentId));
  await store.delete(record.value.rawKey).catch(() => false);
  await store.delete(documentKey(payload.documentId), { ifGenerationMatch: record.generation });
  return { outcome: "deleted", documentId: payload.documentId, removed: ids.length + strays };
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

function uniqueByHash(chunks: Chunk[]): Chunk[] {
  const seen = new Set<string>();
  return chunks.filter((chunk) => !seen.has(chunk.hash) && (seen.add(chunk.hash), true));
}

function toDatapoint(chunk: Chunk, vector: Float32Array): Datapoint {
  return {
    id: datapointId(chunk.documentId, chunk.hash),
    vector,
    restricts: { documentId: chunk.documentId, tags: chunk.tags, contentType: chunk.contentType },
    payload: {
      text: chunk.text,
      title: chunk.title,
      source: chunk.source,
      headingPath: chunk.headingPath,
      ordinal: chunk.ordinal,
      charStart: chunk.charStart,
      charEnd: chunk.charEnd,
      version: chunk.version,
      hash: chunk.hash,
      ...(chunk.pageStart !== undefined ? { pageStart: chunk.pageStart, pageEnd: chunk.pageEnd } : {}),
      ...(chunk.date ? { date: chunk.date } : {}),
    },
  };
}

function toManifestChunk(chunk: Chunk): ManifestChunk {
  return {
    id: datapointId(chunk.documentId, chunk.hash),
    hash: chunk.hash,
    ordinal: chunk.ordinal,
    tokenCount: chunk.tokenCount,
    headingPath: chunk.headingPath,
    charStart: chunk.charStart,
    charEnd: chunk.charEnd,
  };
}
