import type { RetrievalMode } from "../config/schema.js";
import { InvalidRequestError } from "../core/errors.js";
import type { FusionMethod, IndexFilter, Neighbor, SparseVector, VectorIndex } from "./indexes/vector-index.js";
import type { OpenVersion } from "./lifecycle/catalog.js";
import { needsSparse, versionFusion, versionRetrieval, type IndexVersion } from "./lifecycle/versions.js";
import { countTerms } from "./sparse/analyze.js";
import { queryVector } from "./sparse/bm25.js";

/**
 * Asking one index version questions the way it retrieves (its pinned
 * retrieval mode, or another one it can answer, for comparisons): the
 * questions embedded by its embedder for the dense side, analysed into BM25
 * query vectors with its index's term statistics for the text side, and fused
 * as it pins (retrieval.fusion, rrf) in hybrid mode. What search (src/search.ts) and the
 * evaluation (evaluation/retrieve.ts) both ask.
 */
export interface VersionQuery {
  k: number;
  filter?: IndexFilter | undefined;
  /** Another mode than the version's own (a dense version answers only dense). */
  mode?: RetrievalMode | undefined;
  /** Another fusion method than the version's own, for a hybrid question (comparisons: fusion is chosen at query time, the vectors are the same). */
  fusion?: FusionMethod | undefined;
}

/** The mode a question of this version is answered in: the one asked for, or the version's own; a mode needing sparse vectors of a version that holds none is refused. */
export function queryMode(record: IndexVersion, requested?: RetrievalMode): RetrievalMode {
  const own = versionRetrieval(record).mode;
  const mode = requested ?? own;
  if (needsSparse(mode) && !needsSparse(own)) {
    throw new InvalidRequestError(
      `index version ${record.version} retrieves dense only and holds no BM25 sparse vectors, so it cannot answer in ${mode} mode; ask it in dense mode, or build a version with retrieval mode hybrid or text (ragops index create --retrieval hybrid)`,
      { details: { version: record.version, mode, versionMode: own } },
    );
  }
  return mode;
}

/** How a question answered in `mode` is fused: the one asked for, or the version's own; none unless hybrid. */
export function queryFusion(record: IndexVersion, mode: RetrievalMode, requested?: FusionMethod): FusionMethod | undefined {
  return mode === "hybrid" ? (requested ?? versionRetrieval(record).fusion) : undefined;
}

/** The top k neighbours of each question, in the mode `queryMode` settles on, fused as `queryFusion` settles. */
export async function queryVersion(target: Pick<OpenVersion, "record" | "embedder" | "index">, questions: readonly string[], options: VersionQuery): Promise<Neighbor[][]> {
  const mode = queryMode(target.record, options.mode);
  if (questions.length === 0) return [];
  const fusion = { ...versionFusion(versionRetrieval(target.record)), method: queryFusion(target.record, mode, options.fusion) };
  const vectors = mode === "text" ? undefined : await target.embedder.embed(questions, { purpose: "query" });
  const sparse = mode === "dense" ? undefined : await bm25Queries(target.index, questions);
  const out: Neighbor[][] = [];
  for (let i = 0; i < questions.length; i++) {
    const vector = vectors ? (vectors[i] as Float32Array) : null;
    out.push(
      await target.index.query(vector, {
        k: options.k,
        ...(options.filter ? { filter: options.filter } : {}),
        ...(sparse ? { sparse: sparse[i] as SparseVector } : {}),
        ...(mode === "hybrid" ? { fusion } : {}),
      }),
    );
  }
  return out;
}

/** BM25 query vectors of the questions, with IDF from one term statistics call for all their terms. */
async function bm25Queries(index: Pick<VectorIndex, "termStats">, questions: readonly string[]): Promise<SparseVector[]> {
  const counted = questions.map(countTerms);
  const terms = [...new Set(counted.flatMap((c) => [...c.ids]))];
  const stats = await index.termStats(terms);
  const df = new Map(terms.map((term, i) => [term, stats.frequencies[i] ?? 0]));
  return counted.map((c) => queryVector(c, { datapoints: stats.datapoints, frequencies: [...c.ids].map((id) => df.get(id) ?? 0) }));
}
