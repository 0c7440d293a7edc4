import type { Neighbor, RrfFusion } from "./vector-index.js";

/**
 * Reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009) of a dense and
 * a sparse ranking, weighted as Vertex AI Vector Search weighs them (its
 * rrf.alpha on the dense side). Ranks, not scores, are fused: a cosine and a
 * BM25 score have no common scale.
 *
 * Every adapter fuses with this function, so one version config means one
 * retrieval whatever the provider. Vertex's findNeighbors takes `rrf.alpha`
 * but no rank constant or candidate depth, so the Vertex adapter asks the
 * dense and the sparse query as two queries of one findNeighbors call
 * (candidateDepth neighbours each, the same restricts) and fuses them here;
 * gcp.vectorSearch.hybridFusion 'vertex' lets Vertex fuse instead (one query
 * with rrf.alpha), the cheaper approximation.
 */

/** How many neighbours each side ranks before fusion: never fewer than twice the k returned, so an id ranked just below k on both sides still competes. */
export function candidateDepth(fusion: RrfFusion, k: number): number {
  return Math.max(fusion.candidates, 2 * k);
}

/** The fused ranking, at most `limit` long, best first; equal scores in id order. Ids with no weight on any side they appear in are left out. Pure. */
export function reciprocalRankFusion(dense: readonly Neighbor[], sparse: readonly Neighbor[], fusion: RrfFusion, limit: number): Neighbor[] {
  const scores = new Map<string, number>();
  const add = (ranking: readonly Neighbor[], weight: number) => {
    if (weight <= 0) return;
    ranking.forEach((n, i) => scores.set(n.id, (scores.get(n.id) ?? 0) + weight / (fusion.k + i + 1)));
  };
  add(dense, fusion.alpha);
  add(sparse, 1 - fusion.alpha);
  return [...scores]
    .map(([id, score]) => ({ id, score }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, Math.max(0, limit));
}
