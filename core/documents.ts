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
  /** Of the indexed version's bytes; the refresh compares it with the source. */
  fingerprint?: { size: number; sha256: string; mtimeMs?: number; generation?: string };
  /** Chunks of this document that are near-duplicates of chunks indexed for other text. */
  nearDuplicates?: number;
  error?: string;
  /**
   * Set when this version failed in a way retrying cannot help (corrupt,
   * encrypted, unsupported, too large): the fingerprint of those bytes. A
   * refresh skips the document while the source still has them.
   */
  quarantine?: { sha256: string; size: number; mtimeMs?: number; generation?: string };
  /** What failed when status is failed: this version's ingest, or the delete of the document (its indexed bytes stay in rawKey). */
  failedOperation?: "ingest" | "delete";
  /** The failure ledger holds an entry for this document (kept across new versions until one succeeds, which removes it). */
  inLedger?: boolean;
}

export const documentKey = (id: string) => `documents/${id}.json`;
export const uploadKey = (uploadId: string) => `uploads/${uploadId}`;
