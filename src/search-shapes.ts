/**
 * The result shapes a search request may ask for, as pure functions over the
 * hits in the index's order (best first): `minScore` drops weak hits, and
 * `group: "document"` keeps each document's best chunk.
 */
export type ResultGroup = "chunk" | "document";

/**
 * Chunks fetched per document wanted when grouping: a document's chunks tend
 * to rank together, so k documents need several times k chunks.
 */
const CHUNKS_PER_DOCUMENT = 5;

/** How many chunks to ask the index for: k, or enough to find k documents (at most index.maxTopK, which k never exceeds). */
export function candidatesFor(request: { k: number; group?: ResultGroup | undefined; maxTopK: number }): number {
  return request.group === "document" ? Math.min(request.maxTopK, request.k * CHUNKS_PER_DOCUMENT) : request.k;
}

/** The hits scored at least `minScore`, in their order; all of them when it is not given. */
export function atLeast<T extends { score: number }>(hits: readonly T[], minScore: number | undefined): readonly T[] {
  return minScore === undefined ? hits : hits.filter((hit) => hit.score >= minScore);
}

/** The first (best) hit of each document, in the hits' order, up to k documents. */
export function bestPerDocument<T extends { documentId: string }>(hits: readonly T[], k: number): T[] {
  const seen = new Set<string>();
  const kept: T[] = [];
  for (const hit of hits) {
    if (kept.length === k) break;
    if (seen.has(hit.documentId)) continue;
    seen.add(hit.documentId);
    kept.push(hit);
  }
  return kept;
}
