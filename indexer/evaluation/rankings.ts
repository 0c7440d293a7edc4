/**
 * What gets scored: search returns chunks, a golden set may judge documents.
 * A set judged by document ids is scored on the document ranking — each
 * document once, where its first (best) chunk ranks, with that chunk's score —
 * and one judged by chunk references or reference texts on the chunks. Both
 * rankings are in trec_eval's order (score descending, then id descending by
 * bytes), so a run file written from them scores the same under trec_eval.
 */
import { compareTrecOrder, type ScoredDoc } from "./metrics.js";

export interface ChunkHit {
  chunkId: string;
  score: number;
  /**
   * Every document the chunk's text belongs to. Deduplication stores a text
   * once for all documents that hold it, so retrieving it retrieves each of them.
   */
  documentIds: readonly string[];
}

export type JudgedBy = "document" | "chunk";

/** Chunks in trec_eval's order, each chunk once (a repeated chunk keeps its best score). */
export function chunkRanking(hits: readonly ChunkHit[]): ScoredDoc[] {
  return bestScores(hits.map((h) => ({ docno: h.chunkId, score: h.score })));
}

/** Documents in trec_eval's order, each once, scored by the first of their chunks in the chunk ranking. */
export function documentRanking(hits: readonly ChunkHit[]): ScoredDoc[] {
  const chunks = [...hits].sort((a, b) => compareTrecOrder({ docno: a.chunkId, score: a.score }, { docno: b.chunkId, score: b.score }));
  const firstScore = new Map<string, number>();
  for (const chunk of chunks) for (const documentId of chunk.documentIds) if (!firstScore.has(documentId)) firstScore.set(documentId, chunk.score);
  return [...firstScore].map(([docno, score]) => ({ docno, score })).sort(compareTrecOrder);
}

/** The ranking a golden set is scored on. */
export function rankingFor(judgedBy: JudgedBy, hits: readonly ChunkHit[]): ScoredDoc[] {
  return judgedBy === "document" ? documentRanking(hits) : chunkRanking(hits);
}

function bestScores(entries: readonly ScoredDoc[]): ScoredDoc[] {
  const best = new Map<string, number>();
  for (const { docno, score } of entries) {
    const seen = best.get(docno);
    if (seen === undefined || score > seen) best.set(docno, score);
  }
  return [...best].map(([docno, score]) => ({ docno, score })).sort(compareTrecOrder);
}
