import type { Readable } from "node:stream";

/**
 * Object store port: blobs by key, each version with a generation, and
 * preconditions on writes so that small records (aliases, registries,
 * document records) can be changed by compare-and-swap.
 *
 * Semantics follow GCS exactly:
 * - every successful write gives the object a new generation (a decimal string,
 *   strictly greater than any earlier generation of that key);
 * - `ifGenerationMatch: 0` means "only if the object does not exist";
 * - `ifGenerationMatch: g` means "only if the current generation is g";
 * - a failed precondition throws ConflictError and changes nothing.
 *
 * `getStream` is for objects too large to hold (uploads, refresh sources);
 * `head` reads a generation without the body.
 *
 * Left out on purpose: ranges, ACLs, versioned reads of old generations,
 * paging cursors (list is an async iterable; an adapter pages inside it).
 */
export interface ObjectMeta {
  key: string;
  generation: string;
  size: number;
  updated: Date;
  contentType: string | undefined;
  metadata: Record<string, string>;
}

export type Generation = string | number;

export interface PutOptions {
  ifGenerationMatch?: Generation;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface DeleteOptions {
  ifGenerationMatch?: Generation;
}

export interface ObjectStore {
  put(key: string, body: Buffer | string | Readable, options?: PutOptions): Promise<ObjectMeta>;
  /** Throws NotFoundError when the key has no object. */
  get(key: string): Promise<{ meta: ObjectMeta; body: Buffer }>;
  /** Throws NotFoundError when the key has no object. */
  getStream(key: string): Promise<{ meta: ObjectMeta; stream: Readable }>;
  /** The object's generation and size without its body (a refresh compares generations); undefined when absent. */
  head(key: string): Promise<ObjectMeta | undefined>;
  /** Returns false when there was nothing to delete (and no precondition was given). */
  delete(key: string, options?: DeleteOptions): Promise<boolean>;
  /** Objects whose key starts with prefix, in lexicographic key order; an adapter pages internally. */
  list(prefix: string): AsyncIterable<ObjectMeta>;
  close(): Promise<void>;
}
