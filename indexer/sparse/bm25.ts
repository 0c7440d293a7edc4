import type { SparseVector, TermStats } from "../indexes/vector-index.js";
import type { TermCounts } from "./analyze.js";

/**
 * BM25 (Robertson and Zaragoza's form, as Lucene scores it) split in two
 * sparse vectors whose dot product is the score:
 *
 *   document side  w(t, d) = tf · (k1 + 1) / (tf + k1 · (1 − b + b · |d| / avgdl))
 *   query side     q(t)    = qtf · ln(1 + (N − df + 0.5) / (df + 0.5))
 *
 * The document side depends only on the chunk's text and the version's
 * pinned k1, b and avgdl, so it is written once with the datapoint (a chunk
 * is its content) and means the same on every provider. The query side reads
 * N and df from the index (VectorIndex.termStats) at query time, so IDF
 * follows the corpus without rewriting any datapoint. avgdl is pinned, not
 * measured: a measured one would move every document weight with each write.
 */
export interface Bm25Params {
  /** Term frequency saturation. @defaultValue 1.2 */
  k1: number;
  /** Length normalisation, 0 (none) to 1 (full). @defaultValue 0.75 */
  b: number;
  /** The document length, in terms, that b normalises to. */
  avgdl: number;
}

/** A chunk's BM25 document weights, one per distinct term (term ids ascending, as counted). Pure. */
export function documentVector(terms: TermCounts, params: Bm25Params): SparseVector {
  const { k1, b, avgdl } = params;
  const norm = k1 * (1 - b + (b * terms.length) / avgdl);
  const values = new Float32Array(terms.ids.length);
  for (let i = 0; i < values.length; i++) {
    const tf = terms.counts[i] as number;
    values[i] = (tf * (k1 + 1)) / (tf + norm);
  }
  return { dimensions: terms.ids, values };
}

/** Inverse document frequency of a term held by `df` of `datapoints` datapoints (Lucene's, never negative). */
export function idf(datapoints: number, df: number): number {
  return Math.log(1 + (datapoints - df + 0.5) / (df + 0.5));
}

/** A query's BM25 weights: each term's count in the query times its IDF; terms no datapoint holds are left out. `stats` answers for `terms.ids`, position by position. Pure. */
export function queryVector(terms: TermCounts, stats: TermStats): SparseVector {
  const dimensions: number[] = [];
  const values: number[] = [];
  terms.ids.forEach((id, i) => {
    const df = stats.frequencies[i] ?? 0;
    if (df <= 0) return;
    dimensions.push(id);
    values.push((terms.counts[i] as number) * idf(stats.datapoints, df));
  });
  return { dimensions, values };
}

/** Sparse dot product (dimensions unique on each side). Pure. */
export function sparseDot(a: SparseVector, b: SparseVector): number {
  const weights = new Map<number, number>();
  for (let i = 0; i < a.dimensions.length; i++) weights.set(a.dimensions[i] as number, a.values[i] as number);
  let sum = 0;
  for (let i = 0; i < b.dimensions.length; i++) sum += (weights.get(b.dimensions[i] as number) ?? 0) * (b.values[i] as number);
  return sum;
}
