import type { Fusion, FusionMethod, Neighbor } from "./vector-index.js";

/**
 * The two ways a dense and a sparse ranking become one, both weighted by
 * alpha on the dense side (Vertex AI Vector Search's rrf.alpha):
 *
 * - Relative score fusion (Weaviate's relativeScoreFusion; the convex
 *   combination Bruch, Gai and Ingber found ahead of RRF, ACM TOIS 2023):
 *   each side's scores min-max scaled over its candidates, then summed with
 *   the weights. A cosine and a BM25 score have no common unit; scaled, they
 *   share 0 to 1 and keep how far apart the candidates are, which ranks
 *   throw away (measured on our golden sets: bench/RESULTS.md).
 * - Reciprocal rank fusion (Cormack, Clarke and Büttcher, 2009): ranks only.
 *
 * Every adapter fuses with `fuse`, so one version config means one
 * retrieval whatever the provider. Vertex's findNeighbors takes `rrf.alpha`
 * but no rank constant or candidate depth, so the Vertex adapter asks the
 * dense and the sparse query as two queries of one findNeighbors call
 * (candidateDepth neighbours each, the same restricts) and fuses them here;
 * gcp.vectorSearch.hybridFusion 'vertex' lets Vertex fuse instead (one query
 * with rrf.alpha), the cheaper approximation.
 */

/** How many neighbours each side ranks before fusion: never fewer than twice the k returned, so an id ranked just below k on both sides still competes. */
export function candidateDepth(fusion: Pick<Fusion, "candidates">, k: number): number {
  return Math.max(fusion.candidates, 2 * k);
}

/**
 * The fused ranking by the fusion's method (reciprocal rank when it names
 * none: what versions pinned before there was a choice fused by), at most
 * `limit` long, best first; equal scores in id order. Ids with no weight on
 * any side they appear in are left out. Both rankings best first. Pure.
 */
export function fuse(dense: readonly Neighbor[], sparse: readonly Neighbor[], fusion: Fusion, limit: number): Neighbor[] {
  return fusionMethod(fusion) === "relative-score" ? relativeScoreFusion(dense, sparse, fusion, limit) : reciprocalRankFusion(dense, sparse, fusion, limit);
}

/** The method a fusion names; none is reciprocal rank, what versions pinned before there was a choice fused by. */
export function fusionMethod(fusion: Pick<Fusion, "method">): FusionMethod {
  return fusion.method ?? "rrf";
}

export function reciprocalRankFusion(dense: readonly Neighbor[], sparse: readonly Neighbor[], fusion: Fusion, limit: number): Neighbor[] {
  return weightedSum(dense, sparse, fusion.alpha, limit, (ranking, weight) => ranking.map((_, i) => weight / (fusion.k + i + 1)));
}

/** Scores 0 to 1: a side's best candidate adds its whole weight, its worst nothing; a side whose candidates all score alike adds its whole weight to each. */
export function relativeScoreFusion(dense: readonly Neighbor[], sparse: readonly Neighbor[], fusion: Fusion, limit: number): Neighbor[] {
  return weightedSum(dense, sparse, fusion.alpha, limit, (ranking, weight) => {
    let [min, max] = [Infinity, -Infinity];
    for (const { score } of ranking) [min, max] = [Math.min(min, score), Math.max(max, score)];
    const span = max - min;
    return ranking.map((n) => weight * (span > 0 ? (n.score - min) / span : 1));
  });
}

/** Each id's contributions from the sides it appears in, the dense side weighted alpha and the sparse 1 - alpha (a side of weight 0 adds nothing), as one ranking. */
function weightedSum(dense: readonly Neighbor[], sparse: readonly Neighbor[], alpha: number, limit: number, contributions: (ranking: readonly Neighbor[], weight: number) => number[]): Neighbor[] {
  const scores = new Map<string, number>();
  for (const [ranking, weight] of [
    [dense, alpha],
    [sparse, 1 - alpha],
  ] as const) {
    if (weight <= 0) continue;
    contributions(ranking, weight).forEach((added, i) => {
      const id = (ranking[i] as Neighbor).id;
      scores.set(id, (scores.get(id) ?? 0) + added);
    });
  }
  return best(scores, limit);
}

function best(scores: ReadonlyMap<string, number>, limit: number): Neighbor[] {
  return [...scores]
    .map(([id, score]) => ({ id, score }))
    .sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0))
    .slice(0, Math.max(0, limit));
}
