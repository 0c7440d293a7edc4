import { RagopsError } from "../../core/errors.js";

/**
 * Vector index port: one index version's datapoints, and nothing an index
 * like Vertex AI Vector Search could not hold.
 *
 * A datapoint is one chunk (its id is the chunk's content hash): a vector,
 * token restricts (string lists per namespace: the documents that hold the
 * chunk, their tags and content types) and numeric restricts (one number per
 * namespace: the document's date, epoch seconds). No payload: what a search
 * shows (text, title, heading path, pages) comes from the chunk store
 * ragops owns (indexer/sync/chunk-store.ts), looked up by id.
 * Scores are cosine similarities in [-1, 1], higher is closer.
 *
 * Filters are what Vertex restricts express: per namespace an allow list (any
 * of these tokens) and a deny list (none of them); numeric comparisons; AND
 * across all of them. An empty or absent list sets no condition. A datapoint
 * without a numeric namespace matches no comparison on it.
 *
 * Each member maps to one cheap Vertex call:
 * - upsert / remove: upsertDatapoints / removeDatapoints (removing a missing id is fine);
 * - updateRestricts: upsertDatapoints with updateMask all_restricts (the vector stays);
 * - query: findNeighbors (ids and distances only; no full datapoint);
 * - fetch: readIndexDatapoints. Kept because the sync diff must read, from the
 *   index itself, which chunks it holds and with which restricts: that is what
 *   makes a job killed between two writes end, on retry, where a clean run would;
 * - count: Index.indexStats.vectorsCount (whole index only; on Vertex it lags writes).
 *
 * Left out, as no Vertex call does them cheaply: counting or removing by
 * filter, listing ids (adapters may offer it for tests and repairs, outside
 * this port), payloads. Also left out: index creation options, datapoint-side
 * deny lists, crowding, hybrid/sparse search.
 */
export const NAMESPACES = ["documentIds", "tags", "contentTypes"] as const;
export type Namespace = (typeof NAMESPACES)[number];
export type Restricts = Record<Namespace, string[]>;

export const NUMERIC_NAMESPACES = ["date"] as const;
export type NumericNamespace = (typeof NUMERIC_NAMESPACES)[number];
/** At most one value per namespace, as Vertex wants. */
export type NumericRestricts = Partial<Record<NumericNamespace, number>>;

export interface Datapoint {
  id: string;
  vector: Float32Array | number[];
  restricts: Restricts;
  numericRestricts: NumericRestricts;
}

/** What the index holds of a datapoint besides its vector. */
export interface StoredRestricts {
  restricts: Restricts;
  numericRestricts: NumericRestricts;
}

export interface TokenFilter {
  /** Matches datapoints with any of these tokens. */
  allow?: string[];
  /** Matches datapoints with none of these tokens. */
  deny?: string[];
}

export type NumericOp = "LESS" | "LESS_EQUAL" | "EQUAL" | "GREATER_EQUAL" | "GREATER" | "NOT_EQUAL";

export interface NumericFilter {
  namespace: NumericNamespace;
  op: NumericOp;
  value: number;
}

export interface IndexFilter {
  restricts?: Partial<Record<Namespace, TokenFilter>>;
  numeric?: NumericFilter[];
}

export interface Neighbor {
  id: string;
  score: number;
}

export interface VectorIndex {
  readonly name: string;
  readonly dimensions: number;
  /** Inserts or replaces datapoints by id; a vector of other dimensions is a DimensionMismatchError and nothing is written. */
  upsert(datapoints: readonly Datapoint[]): Promise<void>;
  /** Replaces the restricts of datapoints the index holds, keeping their vectors; ids it lacks are skipped. */
  updateRestricts(updates: ReadonlyArray<{ id: string } & StoredRestricts>): Promise<void>;
  /** Removes datapoints by id; ids the index lacks are fine. */
  remove(ids: readonly string[]): Promise<void>;
  /** Restricts of those of these ids the index holds. */
  fetch(ids: readonly string[]): Promise<Map<string, StoredRestricts>>;
  /** At most k neighbours matching the filter, best first. */
  query(vector: Float32Array | number[], options: { k: number; filter?: IndexFilter }): Promise<Neighbor[]>;
  /** Datapoints in the whole index. */
  count(): Promise<number>;
  close(): Promise<void>;
  /** Drops this version's data for good (retire). */
  destroy(): Promise<void>;
}

/** Vectors of other dimensions than the index's: a new index version is needed, so retrying cannot help. */
export class DimensionMismatchError extends RagopsError {
  constructor(
    readonly expected: number,
    readonly actual: number,
    message: string,
  ) {
    super("unavailable", message, { retryable: false, details: { expected, actual } });
  }
}
