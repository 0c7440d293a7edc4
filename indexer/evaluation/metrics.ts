/**
 * Retrieval metrics numerically identical to trec_eval 10.0 (the measures
 * `success_k`, `P_k`, `recall_k`, `recip_rank`, `ndcg_cut_k`, `map`, `Rprec`,
 * `num_q`, `num_ret`, `num_rel`, `num_rel_ret`), with its conventions:
 *
 * - A query's documents are ranked by score descending, ties by docno
 *   descending in byte order (C `strcmp`); the run's own rank column plays no part.
 * - A document is relevant when its grade is at least `relevanceLevel` (-l).
 *   A retrieved document absent from the qrels counts as grade -1, one in the
 *   qrels with a negative grade as -2 (in the pool, unjudged).
 * - nDCG gains are the grades themselves, whatever `relevanceLevel` says; the
 *   discount of rank r is log2(r + 1); the ideal ranking is every judged
 *   document with a grade above 0, best first.
 * - Cut measures pad a short ranking with non-relevant documents (P@10 of two
 *   retrieved documents divides by 10).
 * - Only queries with judgments are scored; run queries without any are
 *   ignored. A query with judgments but no results is an error unless
 *   `completeQueries` (-c) counts it as 0 everywhere (or `skipMissingQueries`
 *   leaves it out, as trec_eval 9.0.x did).
 * - Averages sum per-query values in qid byte order and divide by the number
 *   of queries; num_ret, num_rel and num_rel_ret are totals (with -c, the
 *   num_rel total counts every grade above 0, ignoring -l, as trec_eval does).
 */
import { InvalidRequestError } from "../../core/errors.js";

export interface ScoredDoc {
  docno: string;
  score: number;
}

export interface EvaluationOptions {
  /**
   * Cutoffs k for success@k, P@k, recall@k and nDCG@k.
   * @defaultValue trec_eval's P/ndcg_cut defaults plus success' 1: [1, 5, 10, 15, 20, 30, 100, 200, 500, 1000]
   */
  cutoffs?: readonly number[];
  /** Minimum grade of a relevant document (trec_eval -l). @defaultValue 1 */
  relevanceLevel?: number;
  /** Count a judged query missing from the run as 0 in every measure and average (trec_eval -c). @defaultValue false */
  completeQueries?: boolean;
  /** Leave a judged query missing from the run out of every average (trec_eval 9.0.x without -c). Ignored with completeQueries. @defaultValue false */
  skipMissingQueries?: boolean;
  /** Score only the first N documents of each ranking (trec_eval -M). @defaultValue unlimited */
  maxDocsPerQuery?: number;
  /** Drop retrieved documents that are not judged (grade below 0 or absent) before scoring (trec_eval -J). @defaultValue false */
  judgedOnly?: boolean;
}

export const DEFAULT_CUTOFFS: readonly number[] = [1, 5, 10, 15, 20, 30, 100, 200, 500, 1000];

/** One query's measures; the per-k maps are keyed by cutoff. */
export interface QueryMetrics {
  numRet: number;
  numRel: number;
  numRelRet: number;
  map: number;
  rprec: number;
  recipRank: number;
  success: Record<number, number>;
  precision: Record<number, number>;
  recall: Record<number, number>;
  ndcg: Record<number, number>;
}

export interface RunMetrics {
  /** Per query, in qid byte order (trec_eval's -q order). */
  queries: { qid: string; metrics: QueryMetrics }[];
  /** Means over queries (totals for numRet, numRel, numRelRet). */
  all: QueryMetrics & { numQ: number };
}

/** C `strcmp` on the UTF-8 bytes: UTF-16 order except that astral characters sort above U+E000..U+FFFF. */
export function compareBytes(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xSurrogate = x >= 0xd800 && x <= 0xdfff;
    const ySurrogate = y >= 0xd800 && y <= 0xdfff;
    if (xSurrogate !== ySurrogate && (xSurrogate ? y : x) >= 0xe000) return xSurrogate ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** trec_eval's ranking order: score descending, then docno descending by bytes. */
export function compareTrecOrder(a: ScoredDoc, b: ScoredDoc): number {
  if (a.score > b.score) return -1;
  if (a.score < b.score) return 1;
  return compareBytes(b.docno, a.docno);
}

/** Sorts a ranking the way trec_eval does; a docno twice is an error (trec_eval refuses it too). */
export function trecRanking(qid: string, docs: readonly ScoredDoc[]): ScoredDoc[] {
  const sorted = [...docs].sort(compareTrecOrder);
  const seen = new Set<string>();
  for (const doc of sorted) {
    if (seen.has(doc.docno)) throw new InvalidRequestError(`document ${doc.docno} is ranked twice for query ${qid}; each document may appear once per query`);
    seen.add(doc.docno);
  }
  return sorted;
}

/** Grade trec_eval gives a retrieved document that is not in the qrels. */
const NOT_IN_POOL = -1;
/** Grade trec_eval gives a retrieved document in the qrels with a negative grade. */
const UNJUDGED = -2;

function checkOptions(options: EvaluationOptions): Required<Omit<EvaluationOptions, "maxDocsPerQuery">> & { maxDocsPerQuery: number } {
  const cutoffs = options.cutoffs ?? DEFAULT_CUTOFFS;
  for (const k of cutoffs) if (!Number.isInteger(k) || k < 1) throw new InvalidRequestError(`cutoff ${k} must be a positive integer`);
  const relevanceLevel = options.relevanceLevel ?? 1;
  if (!Number.isInteger(relevanceLevel)) throw new InvalidRequestError(`relevanceLevel ${relevanceLevel} must be an integer`);
  const maxDocsPerQuery = options.maxDocsPerQuery ?? Number.POSITIVE_INFINITY;
  if (!(maxDocsPerQuery >= 0)) throw new InvalidRequestError(`maxDocsPerQuery ${maxDocsPerQuery} must be 0 or more`);
  return {
    cutoffs: [...new Set(cutoffs)].sort((a, b) => a - b),
    relevanceLevel,
    completeQueries: options.completeQueries ?? false,
    skipMissingQueries: options.skipMissingQueries ?? false,
    maxDocsPerQuery,
    judgedOnly: options.judgedOnly ?? false,
  };
}

/** The grades of the ranked documents, after -M and -J, as trec_eval's form_res_rels builds them. */
function rankedGrades(qid: string, judgments: ReadonlyMap<string, number>, docs: readonly ScoredDoc[], maxDocs: number, judgedOnly: boolean): number[] {
  const grades = trecRanking(qid, docs)
    .slice(0, maxDocs)
    .map(({ docno }) => {
      const grade = judgments.get(docno);
      if (grade === undefined) return NOT_IN_POOL;
      return grade < 0 ? UNJUDGED : grade;
    });
  return judgedOnly ? grades.filter((g) => g >= 0) : grades;
}

/** Scores one query against its judgments (docno → grade). */
export function evaluateQuery(qid: string, judgments: ReadonlyMap<string, number>, docs: readonly ScoredDoc[], options: EvaluationOptions = {}): QueryMetrics {
  const { cutoffs, relevanceLevel, maxDocsPerQuery, judgedOnly } = checkOptions(options);
  return scoreGrades(rankedGrades(qid, judgments, docs, maxDocsPerQuery, judgedOnly), [...judgments.values()], cutoffs, relevanceLevel);
}

function scoreGrades(grades: readonly number[], judged: readonly number[], cutoffs: readonly number[], level: number): QueryMetrics {
  const relevant = (grade: number) => grade >= level;
  const numRet = grades.length;
  // Relevant judged documents: trec_eval counts grades from 0 up, so a level at or below 0 still leaves negative grades out.
  const numRel = judged.filter((g) => g >= 0 && relevant(g)).length;
  const numRelRet = grades.filter((g) => g >= 0 && relevant(g)).length;

  // relSoFar[i]: relevant documents among the first i; dcg[i]: DCG of the first i.
  const relSoFar = [0];
  const dcg = [0];
  let apSum = 0;
  let firstRelevant = -1;
  grades.forEach((grade, i) => {
    const hit = relevant(grade);
    relSoFar.push((relSoFar[i] as number) + (hit ? 1 : 0));
    if (hit) {
      apSum += (relSoFar[i + 1] as number) / (i + 1);
      if (firstRelevant < 0) firstRelevant = i;
    }
    dcg.push(grade > 0 ? (dcg[i] as number) + grade / Math.log2(i + 2) : (dcg[i] as number));
  });
  const ideal = [0];
  judged
    .filter((g) => g > 0)
    .sort((a, b) => b - a)
    .forEach((gain, i) => ideal.push((ideal[i] as number) + gain / Math.log2(i + 2)));

  const at = (series: readonly number[], k: number) => series[Math.min(k, series.length - 1)] as number;
  const perCutoff = (value: (k: number) => number) => Object.fromEntries(cutoffs.map((k) => [k, value(k)])) as Record<number, number>;
  const rprecDepth = Math.min(numRet, numRel);
  return {
    numRet,
    numRel,
    numRelRet,
    map: numRel > 0 && apSum > 0 ? apSum / numRel : 0,
    rprec: rprecDepth === 0 ? 0 : at(relSoFar, rprecDepth) / numRel,
    recipRank: firstRelevant < 0 ? 0 : 1 / (firstRelevant + 1),
    success: perCutoff((k) => (at(relSoFar, k) > 0 ? 1 : 0)),
    precision: perCutoff((k) => at(relSoFar, k) / k),
    recall: perCutoff((k) => (numRel === 0 ? 0 : at(relSoFar, k) / numRel)),
    ndcg: perCutoff((k) => {
      const idcg = at(ideal, k);
      return idcg > 0 ? at(dcg, k) / idcg : at(dcg, k);
    }),
  };
}

/**
 * Scores a run against qrels, per query and on average, as trec_eval 10.0
 * does with `-q` (and `-c`, `-l`, `-M`, `-J` through the options).
 */
export function evaluateRun(qrels: ReadonlyMap<string, ReadonlyMap<string, number>>, run: ReadonlyMap<string, readonly ScoredDoc[]>, options: EvaluationOptions = {}): RunMetrics {
  const checked = checkOptions(options);
  const queries: RunMetrics["queries"] = [];
  for (const qid of [...qrels.keys()].sort(compareBytes)) {
    const judgments = qrels.get(qid) as ReadonlyMap<string, number>;
    let docs = run.get(qid);
    if (docs === undefined) {
      if (checked.completeQueries) docs = [];
      else if (checked.skipMissingQueries) continue;
      else
        throw new InvalidRequestError(`query ${qid} has judgments but no results in the run; set completeQueries (trec_eval -c) to count it as 0, as trec_eval 10.0 refuses it otherwise`, {
          details: { qid },
        });
    }
    const grades = rankedGrades(qid, judgments, docs, checked.maxDocsPerQuery, checked.judgedOnly);
    queries.push({ qid, metrics: scoreGrades(grades, [...judgments.values()], checked.cutoffs, checked.relevanceLevel) });
  }
  if (queries.length === 0) throw new InvalidRequestError("no query has both judgments and results; nothing to evaluate");
  const all = average(queries.map((q) => q.metrics), checked.cutoffs);
  // trec_eval 10.0 quirk kept on purpose: with -c the summary num_rel goes back to the qrels and
  // counts every grade above 0 in every query, whatever -l says (m_num_rel.c, te_calc_avg_num_rel).
  if (checked.completeQueries) all.numRel = [...qrels.values()].reduce((sum, judgments) => sum + [...judgments.values()].filter((g) => g > 0).length, 0);
  return { queries, all };
}

/** trec_eval's summary: per-query values summed in qid order, then divided by the number of queries. */
function average(rows: readonly QueryMetrics[], cutoffs: readonly number[]): RunMetrics["all"] {
  const n = rows.length;
  const mean = (pick: (m: QueryMetrics) => number) => rows.reduce((sum, m) => sum + pick(m), 0) / n;
  const total = (pick: (m: QueryMetrics) => number) => rows.reduce((sum, m) => sum + pick(m), 0);
  const perCutoff = (pick: (m: QueryMetrics) => Record<number, number>) => Object.fromEntries(cutoffs.map((k) => [k, mean((m) => pick(m)[k] as number)])) as Record<number, number>;
  return {
    numQ: n,
    numRet: total((m) => m.numRet),
    numRel: total((m) => m.numRel),
    numRelRet: total((m) => m.numRelRet),
    map: mean((m) => m.map),
    rprec: mean((m) => m.rprec),
    recipRank: mean((m) => m.recipRank),
    success: perCutoff((m) => m.success),
    precision: perCutoff((m) => m.precision),
    recall: perCutoff((m) => m.recall),
    ndcg: perCutoff((m) => m.ndcg),
  };
}

/** The measures under trec_eval's names (`P_10`, `ndcg_cut_10`, `recip_rank`, …), e.g. to compare with its output. */
export function trecMeasures(metrics: QueryMetrics & { numQ?: number }): Map<string, number> {
  const out = new Map<string, number>();
  if (metrics.numQ !== undefined) out.set("num_q", metrics.numQ);
  out.set("num_ret", metrics.numRet).set("num_rel", metrics.numRel).set("num_rel_ret", metrics.numRelRet);
  out.set("map", metrics.map).set("Rprec", metrics.rprec).set("recip_rank", metrics.recipRank);
  const cut = (name: string, values: Record<number, number>) => {
    for (const [k, v] of Object.entries(values)) out.set(`${name}_${k}`, v);
  };
  cut("P", metrics.precision);
  cut("recall", metrics.recall);
  cut("ndcg_cut", metrics.ndcg);
  cut("success", metrics.success);
  return out;
}
