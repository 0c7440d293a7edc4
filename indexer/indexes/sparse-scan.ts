import { createTopK, filterMatcher } from "./exact-scan.js";
import type { IndexFilter, Neighbor, SparseVector, StoredRestricts, TermStats } from "./vector-index.js";

/**
 * The sparse vectors of an index snapshot as an inverted index in memory:
 * for each term, the rows holding it and their weights. A sparse query walks
 * only the postings of its own terms (a question of eight words touches a few
 * thousand postings of 11,000 chunks), and the term statistics BM25's IDF
 * needs are the posting list lengths.
 *
 * Compressed sparse rows in typed arrays: 8 bytes per posting (row, float32
 * weight) and 8 per distinct term, about 1 KB per chunk of 500 tokens;
 * no object per posting.
 */
export interface InvertedIndex {
  /** Rows holding a sparse vector: N in IDF. */
  readonly datapoints: number;
  /** 1 where the row at that position holds a sparse vector. */
  readonly holdsSparse: Uint8Array;
  /** Distinct term ids, ascending. */
  readonly terms: Uint32Array;
  /** Postings of terms[i] are [offsets[i], offsets[i + 1]). */
  readonly offsets: Uint32Array;
  readonly postingRows: Uint32Array;
  readonly postingWeights: Float32Array;
}

/** The inverted index of rows' sparse vectors, by row position (undefined: the row has none). */
export function buildInvertedIndex(rows: ReadonlyArray<SparseVector | undefined>): InvertedIndex {
  const lengths = new Map<number, number>();
  let datapoints = 0;
  const holdsSparse = new Uint8Array(rows.length);
  for (const [row, sparse] of rows.entries()) {
    if (!sparse) continue;
    datapoints += 1;
    holdsSparse[row] = 1;
    for (let i = 0; i < sparse.dimensions.length; i++) {
      const term = sparse.dimensions[i] as number;
      lengths.set(term, (lengths.get(term) ?? 0) + 1);
    }
  }
  const terms = Uint32Array.from(lengths.keys()).sort();
  const offsets = new Uint32Array(terms.length + 1);
  const position = new Map<number, number>();
  terms.forEach((term, i) => {
    position.set(term, i);
    offsets[i + 1] = (offsets[i] as number) + (lengths.get(term) as number);
  });
  const total = offsets[terms.length] as number;
  const postingRows = new Uint32Array(total);
  const postingWeights = new Float32Array(total);
  const cursor = offsets.slice(0, terms.length);
  rows.forEach((sparse, row) => {
    if (!sparse) return;
    for (let i = 0; i < sparse.dimensions.length; i++) {
      const at = position.get(sparse.dimensions[i] as number) as number;
      const slot = cursor[at] as number;
      postingRows[slot] = row;
      postingWeights[slot] = sparse.values[i] as number;
      cursor[at] = slot + 1;
    }
  });
  return { datapoints, holdsSparse, terms, offsets, postingRows, postingWeights };
}

/** Position of a term in `terms`, or -1. */
function find(terms: Uint32Array, term: number): number {
  let lo = 0;
  let hi = terms.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const value = terms[mid] as number;
    if (value === term) return mid;
    if (value < term) lo = mid + 1;
    else hi = mid - 1;
  }
  return -1;
}

/** N and each term's document frequency; rows marked in `skip` do not count. */
export function invertedTermStats(index: InvertedIndex, dimensions: readonly number[], skip?: Uint8Array): TermStats {
  let datapoints = index.datapoints;
  if (skip) for (let row = 0; row < skip.length; row++) if (skip[row] && index.holdsSparse[row]) datapoints -= 1;
  return {
    datapoints,
    frequencies: dimensions.map((term) => {
      const at = find(index.terms, term);
      if (at < 0) return 0;
      const start = index.offsets[at] as number;
      const end = index.offsets[at + 1] as number;
      if (!skip) return end - start;
      let held = 0;
      for (let p = start; p < end; p++) if (!skip[index.postingRows[p] as number]) held += 1;
      return held;
    }),
  };
}

/** The rows of a snapshot the sparse search ranks: their ids and restricts, position by position with the inverted index's rows. */
export interface SparseRows {
  readonly rows: number;
  readonly ids: readonly string[];
  readonly restricts: readonly StoredRestricts[];
}

/** Scratch scores of sparseTopK, shared by every scan (a scan is synchronous) and left all 0 by each. */
let scoreBuffer = new Float64Array(0);

/**
 * The k rows with the highest dot product with the query that match the
 * filter, best first, equal scores in id order; rows whose dot product is 0
 * (no shared term) are not returned.
 */
export function sparseTopK(rows: SparseRows, index: InvertedIndex, query: SparseVector, k: number, filter?: IndexFilter, skip?: Uint8Array): Neighbor[] {
  if (k <= 0 || rows.rows === 0) return [];
  // Shared scratch (a scan is synchronous); every row touched is reset to 0 below, before the scan returns.
  if (scoreBuffer.length < rows.rows) scoreBuffer = new Float64Array(rows.rows);
  const scores = scoreBuffer;
  const touched: number[] = [];
  for (let q = 0; q < query.dimensions.length; q++) {
    const weight = query.values[q] as number;
    const at = weight === 0 ? -1 : find(index.terms, query.dimensions[q] as number);
    if (at < 0) continue;
    const end = index.offsets[at + 1] as number;
    for (let p = index.offsets[at] as number; p < end; p++) {
      const row = index.postingRows[p] as number;
      const before = scores[row] as number;
      // Listed when its sum is 0: on its first touch, or again after weights of both signs cancelled (the second listing finds it reset below and is skipped).
      if (before === 0) touched.push(row);
      scores[row] = before + weight * (index.postingWeights[p] as number);
    }
  }
  const admits = filter ? filterMatcher(filter) : undefined;
  const best = createTopK(k, rows.ids);
  for (const row of touched) {
    const score = scores[row] as number;
    scores[row] = 0;
    if (score === 0 || skip?.[row] || (admits && !admits(rows.restricts[row] as StoredRestricts))) continue;
    best.offer(row, score);
  }
  return best.sorted().map(({ row, score }) => ({ id: rows.ids[row] as string, score }));
}

/** A datapoint's id and sparse vector, as a scan of a table gives them. */
export interface SparseRow {
  id: string;
  sparse: SparseVector;
}

/**
 * What sparseTopK answers, from a scan of rows (already filtered) instead of an
 * inverted index: for a table no snapshot holds. Costs one pass over every row.
 */
export async function scanSparseTopK(batches: AsyncIterable<readonly SparseRow[]>, query: SparseVector, k: number): Promise<Neighbor[]> {
  const weights = new Map<number, number>();
  for (let i = 0; i < query.dimensions.length; i++) {
    const term = query.dimensions[i] as number;
    weights.set(term, (weights.get(term) ?? 0) + (query.values[i] as number));
  }
  const ids: string[] = [];
  const scores: number[] = [];
  // Batch by batch: an await per row cost more than the scoring (a table of 100,000 rows is a few dozen batches).
  for await (const rows of batches) {
    for (const { id, sparse } of rows) {
      let score = 0;
      for (let j = 0; j < sparse.dimensions.length; j++) score += (weights.get(sparse.dimensions[j] as number) ?? 0) * (sparse.values[j] as number);
      if (score === 0) continue;
      ids.push(id);
      scores.push(score);
    }
  }
  const best = createTopK(k, ids);
  scores.forEach((score, row) => best.offer(row, score));
  return best.sorted().map(({ row, score }) => ({ id: ids[row] as string, score }));
}

/** What invertedTermStats answers, from a scan of every row holding a sparse vector. */
export async function scanTermStats(batches: AsyncIterable<readonly SparseRow[]>, dimensions: readonly number[]): Promise<TermStats> {
  const positions = new Map<number, number[]>();
  dimensions.forEach((term, i) => positions.set(term, [...(positions.get(term) ?? []), i]));
  const frequencies = dimensions.map(() => 0);
  let datapoints = 0;
  for await (const rows of batches) {
    for (const { sparse } of rows) {
      datapoints += 1;
      for (let j = 0; j < sparse.dimensions.length; j++) for (const at of positions.get(sparse.dimensions[j] as number) ?? []) frequencies[at] = (frequencies[at] as number) + 1;
    }
  }
  return { datapoints, frequencies };
}

/** Term statistics read for some terms at one version of a table. */
export type TermStatsRead = (version: number, terms: readonly number[]) => Promise<TermStats>;

/** Distinct terms whose frequencies one version keeps; past it the cache starts again. */
const CACHED_TERMS = 100_000;

/**
 * Term statistics of a table with no snapshot, kept per table version: each
 * is read from the table (a scan of the rows holding the terms) once, and
 * again only after a write made a new version. A question past the snapshot
 * limit otherwise read them on every search, as long as its ranking took.
 */
export function versionedTermStats(version: () => Promise<number>, read: TermStatsRead): (dimensions: readonly number[]) => Promise<TermStats> {
  let held: { version: number; datapoints: number | undefined; frequencies: Map<number, number> } | undefined;
  return async (dimensions) => {
    const current = await version();
    if (held?.version !== current || held.frequencies.size > CACHED_TERMS) held = { version: current, datapoints: undefined, frequencies: new Map() };
    const cache = held;
    const missing = [...new Set(dimensions)].filter((term) => !cache.frequencies.has(term));
    if (missing.length > 0 || cache.datapoints === undefined) {
      const { datapoints, frequencies } = await read(current, missing);
      cache.datapoints = datapoints;
      missing.forEach((term, i) => cache.frequencies.set(term, frequencies[i] as number));
    }
    return { datapoints: cache.datapoints, frequencies: dimensions.map((term) => cache.frequencies.get(term) as number) };
  };
}
