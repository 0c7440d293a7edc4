/** Where a document's state lives in the object store, and its shape. */

export type DocumentStatus = "queued" | "processing" | "indexed" | "failed" | "deleting";

export interface DocumentRecord {
  id: string;
  /** Increases by one on every upload of this id. */
  version: number;
  status: DocumentStatus;
  /** Object key of this version's raw bytes. */
  rawKey: string;
  filename: string;
  source: string;
  contentType: string;
  sizeBytes: number;
  title?: string;
  tags: string[];
  date?: string;
  jobId: string;
  createdAt: string;
  updatedAt: string;
  /** The version whose chunks the index holds, once one has been indexed. */
  indexedVersion?: number;
  chunkCount?: number;
  error?: string;
}

export interface ManifestChunk {
  id: string;
  hash: string;
  ordinal: number;
  tokenCount: number;
  headingPath: string[];
  charStart: number;
  charEnd: number;
}

/** What the index holds for one document: written after the index, read to undo it. */
export interface DocumentManifest {
  documentId: string;
  version: number;
  rawKey: string;
  indexVersion: string;
  chunks: ManifestChunk[];
  indexedAt: string;
}

export const documentKey = (id: string) => `documents/${id}.json`;
export const manifestKey = (id: string) => `manifests/${id}.json`;
export const uploadKey = (uploadId: string) => `uploads/${uploadId}`;
