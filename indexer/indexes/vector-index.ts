import { RagopsError } from "../../core/errors.js";
import type { FusionMethod } from "../../config/schema.js";

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
 *
 * A datapoint may also hold a sparse vector (Vertex's sparse embedding: term
 * dimensions and their weights), the document side of BM25 that ragops
 * computes itself (../sparse/). A query asks with a dense vector, a sparse
 * one, or both fused by reciprocal rank fusion (fusion.ts). Scores: cosine
 * similarities in [-1, 1] for a dense query, dot products for a sparse one
 * (BM25 when ragops made both sides), fused RRF scores for both; always
 * higher is closer.
 *
 * Filters are what Vertex restricts express: per namespace an allow list (any
 * of these tokens) and a deny list (none of them); numeric comparisons; AND
 * across all of them. An empty or absent list sets no condition. A datapoint
 * without a numeric namespace matches no comparison on it.
 *
 * Each member maps to one cheap Vertex call:
 * - upsert / remove: upsertDatapoints / removeDatapoints (removing a missing id is fine);
 * - updateRestricts: upsertDatapoints with updateMask all_restricts (the vector stays);
 * - query: findNeighbors (ids and distances only; no full datapoint): a dense
 *   featureVector, a sparseEmbedding, or both with `rrf.alpha` (fusion.ts);
 * - termStats: what BM25's IDF needs of the index (datapoints with a sparse
 *   vector, and per term how many hold it). Vertex computes no IDF and has no
 *   call that counts datapoints per dimension, so the Vertex adapter keeps the
 *   counts in ragops' own registry, Redis (term-stats.ts): after each write
 *   Vertex accepted, one Lua script moves the datapoints' dimensions in and
 *   out of the version's counts; a batch rebuild recounts them from what it
 *   wrote. LanceDB counts from the postings of its in-memory snapshot;
 * - fetch: readIndexDatapoints. Kept because the sync diff must read, from the
 *   index itself, which chunks it holds and with which restricts: that is what
 *   makes a job killed between two writes end, on retry, where a clean run would;
 * - count: Index.indexStats.vectorsCount (whole index only; on Vertex it lags writes).
 *
 * Left out, as no Vertex call does them cheaply: counting or removing by
 * filter, payloads. Listing every id is optional (listIds): LanceDB offers
 * it; Vertex has no cheap call for it, so a reconcile (indexer/reconcile/)
 * looks for orphans there among the ids the registry and chunk store know. Also left out: index creation options, datapoint-side
 * deny lists, crowding.
 */
export const NAMESPACES = ["documentIds", "tags", "contentTypes"] as const;
export type Namespace = (typeof NAMESPACES)[number];
export type Restricts = Record<Namespace, string[]>;

export const NUMERIC_NAMESPACES = ["date"] as const;
export type NumericNamespace = (typeof NUMERIC_NAMESPACES)[number];
/** At most one value per namespace, as Vertex wants. */
export type NumericRestricts = Partial<Record<NumericNamespace, number>>;

/**
 * Vertex's sparse embedding: term dimensions (unique, unsigned 32-bit here)
 * and their weights, position by position. A datapoint's are BM25 document
 * weights, a query's IDF weights (../sparse/bm25.ts).
 */
export interface SparseVector {
  dimensions: Uint32Array | readonly number[];
  values: Float32Array | readonly number[];
}

export interface Datapoint {
  id: string;
  vector: Float32Array | number[];
  /** Absent: the datapoint never matches a sparse query (an index version in dense mode writes none). */
  sparse?: SparseVector;
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

/** How a hybrid query's two rankings become one (fusion.ts); config's retrieval.fusion. */
export type { FusionMethod };

/**
 * How a hybrid query fuses its dense and sparse rankings (fusion.ts): each
 * side ranks its best max(candidates, 2k) datapoints; by relative score a
 * datapoint scores alpha x its min-max scaled dense score + (1 - alpha) x its
 * scaled sparse score, by rrf alpha / (k + dense rank) + (1 - alpha) / (k +
 * sparse rank), a side it is missing from adding nothing. `alpha` is Vertex's
 * rrf.alpha: 1 only dense, 0 only sparse.
 */
export interface Fusion {
  /** Absent: "rrf", what every version fused by before there was a choice. */
  method?: FusionMethod;
  /** Reciprocal rank fusion's rank constant. @defaultValue 60 */
  k: number;
  /** Weight of the dense ranking, 0 to 1; the sparse one gets 1 - alpha. */
  alpha: number;
  /** Datapoints each side ranks, at least; the fused top k is drawn from them. */
  candidates: number;
}

export interface QueryOptions {
  k: number;
  filter?: IndexFilter;
  /** The sparse side of the query; with a dense vector too, `fusion` says how the two rankings combine. */
  sparse?: SparseVector;
  fusion?: Fusion;
}

/** What BM25's IDF needs: datapoints with a sparse vector, and for each asked dimension how many of them hold it. */
export interface TermStats {
  datapoints: number;
  /** Position by position with the dimensions asked for. */
  frequencies: number[];
}

export type IndexHealth = { provider: string } & Record<string, unknown>;

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
  /**
   * At most k neighbours matching the filter, best first (equal scores in id order). `vector` is the
   * dense query, or null for a sparse one only; both need `options.fusion`. A sparse query matches
   * only datapoints holding one of its dimensions with a non-zero weight.
   */
  query(vector: Float32Array | number[] | null, options: QueryOptions): Promise<Neighbor[]>;
  /** Term statistics of the whole index for these sparse dimensions (filters play no part in IDF). */
  termStats(dimensions: readonly number[]): Promise<TermStats>;
  /** Datapoints in the whole index. */
  count(): Promise<number>;
  /**
   * Every datapoint id the index holds, an id once per row it is stored in (a reconcile finds
   * orphans and repeated rows with it). Optional: an index that cannot list cheaply leaves it out.
   */
  listIds?(): Promise<string[]>;
  /** How the index is searched now (adapter's own fields: rows, search path, ANN index state), for GET /v1/indexes/:version. */
  describe?(): Promise<IndexHealth>;
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

/** Why a sparse vector cannot be stored or asked with (dimensions and values of other lengths, a repeated dimension, a weight that is not a finite number), or undefined when it can. */
export function sparseProblem(sparse: SparseVector): string | undefined {
  const { dimensions, values } = sparse;
  if (dimensions.length !== values.length) return `${dimensions.length} dimensions but ${values.length} values`;
  for (let i = 0; i < values.length; i++) if (!Number.isFinite(values[i])) return `value ${i} is ${values[i]}, not a finite number`;
  const seen = new Set<number>();
  for (let i = 0; i < dimensions.length; i++) {
    const d = dimensions[i] as number;
    if (!Number.isInteger(d) || d < 0 || d >= 2 ** 32) return `dimension ${i} is ${d}, not an unsigned 32-bit integer`;
    if (seen.has(d)) return `dimension ${d} appears twice`;
    seen.add(d);
  }
  return undefined;
}
