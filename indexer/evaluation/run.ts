import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { z } from "zod";
import type { EvaluationConfig, RetrievalMode } from "../../config/schema.js";
import { InvalidRequestError, NotFoundError } from "../../core/errors.js";
import { readJson, writeJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import type { OpenVersion, VersionCatalog } from "../lifecycle/catalog.js";
import type { FusionMethod } from "../indexes/vector-index.js";
import { readManifest } from "../sync/manifest.js";
import { bootstrapMeanCI, streamSeed } from "./bootstrap.js";
import type { GateVerdict } from "./gate.js";
import { parseChunkRef, type GoldenQuestion, type JudgmentLevel } from "./golden-set.js";
import { readGoldenSet } from "./golden-store.js";
import { compareBytes, evaluateQuery, type ScoredDoc } from "./metrics.js";
import { CONTAINED_DEFAULT_THRESHOLD, containedContextPrecision, containedContextRecall, containedSimilarity } from "./contained.js";
import { chunkRanking, rankingFor } from "./rankings.js";
import { idContextPrecision, idContextRecall, nonLlmContextPrecision, nonLlmContextRecall, RAGAS_DEFAULT_THRESHOLD, stringSimilarity } from "./ragas.js";
import { retrieveAll, type RetrievedChunk } from "./retrieve.js";
import { queryFusion, queryMode } from "../query-version.js";
import { formatRun } from "./trec.js";

/**
 * One evaluation run: every question of one golden set version asked of one
 * index version, scored per question and on average, stored as a report.
 *
 *   evaluations/<id>.json        the report (per-question rows, aggregates with 95 % CIs)
 *   evaluations/<id>.run.txt     the ranking as a TREC run (what the metrics scored)
 *   evaluations/<id>.qrels.txt   the judgments as TREC qrels
 *
 * `trec_eval -c -q -m P.1,3,5,10 … <id>.qrels.txt <id>.run.txt` gives the
 * report's hit@k, precision@k, recall@k, ndcg@k, mrr, map and rprec for every
 * question with judgments (a question without any is left out by trec_eval and
 * counted as 0 here).
 *
 * Metric names (what the gate config names): hit@k, precision@k, recall@k,
 * ndcg@k for each configured cutoff, mrr, map, rprec; context_precision and
 * context_recall (ragas' non-LLM forms, for questions with reference contexts),
 * contained_context_precision and contained_context_recall (the same with a
 * reference found when it occurs approximately inside a retrieved text,
 * contained.ts: what works for sentence-long references and paragraph-long
 * chunks) and id_context_precision and id_context_recall (ragas' id-based
 * forms, for questions judged by ids). The context metrics read the first
 * max(cutoffs) retrieved contexts, what a RAG would hand to its LLM.
 *
 * Judgments: listed ids are grade 1, `graded` gives grades (any trec_eval
 * reads; a negative one is unjudged, as in qrels). A question
 * with reference contexts and no ids is judged by them: each retrieved chunk
 * whose text matches a reference context (ragas' similarity ≥ 0.5) is
 * relevant (grade 1), at the set's level (its chunk, or its documents).
 */
export const evaluationIdSchema = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,199}$/, "an evaluation id is letters, digits, '.', '_' or '-'");

export const reportKey = (id: string) => `evaluations/${id}.json`;
export const runKey = (id: string) => `evaluations/${id}.run.txt`;
export const qrelsKey = (id: string) => `evaluations/${id}.qrels.txt`;

export interface RetrievedRow {
  /** The docno scored: a document id (set judged by documents) or a chunk hash. */
  id: string;
  score: number;
  documentId: string;
  /** The chunk's text (a document's: its best chunk), cut to REPORT_TEXT_CHARS, on the first REPORT_TEXTS rows only: what a reader checks, not a copy of the corpus. */
  text?: string;
}

/** Rows of a question's ranking that carry their text in the report, and how much of it. */
export const REPORT_TEXTS = 5;
export const REPORT_TEXT_CHARS = 400;

export interface QuestionRow {
  id: string;
  question: string;
  /** The ranking scored, best first (trec_eval's order). */
  retrieved: RetrievedRow[];
  /** Ids judged relevant (grade ≥ 1), at the set's level. */
  relevant: string[];
  metrics: Record<string, number>;
}

export interface Aggregate {
  mean: number;
  /** 95 % percentile bootstrap interval of the mean. */
  ci: [number, number];
  /** Questions with this metric. */
  n: number;
}

export interface EvaluationReport {
  id: string;
  version: string;
  /** How the version retrieved: its own mode unless the request named another (reports written before modes existed have none: dense). */
  mode?: RetrievalMode;
  /** How a hybrid evaluation fused its two rankings (reports written before there was a choice have none: rrf). */
  fusion?: FusionMethod;
  goldenSet: { name: string; version: number; judgmentLevel: JudgmentLevel };
  /** Chunks retrieved per question. */
  k: number;
  cutoffs: number[];
  createdAt: string;
  questions: QuestionRow[];
  aggregates: Record<string, Aggregate>;
  /** Files beside the report. */
  trec: { run: string; qrels: string; tag: string };
  /** The gate's verdict, when the version was evaluated as a candidate. */
  gate?: GateVerdict;
  /** The live version's report the gate compared with. */
  live?: { version: string; reportId: string };
}

export interface EvaluateDeps {
  store: ObjectStore;
  redis: Redis;
  redisPrefix: string;
  catalog: VersionCatalog;
  evaluation: EvaluationConfig;
}

export interface EvaluateRequest {
  version: string;
  goldenSet: { name: string; version: number | "latest" };
  k?: number | undefined;
  /** Measure the version retrieving in another mode than its own (comparisons, benchmarks); the gate never asks for one. */
  mode?: RetrievalMode | undefined;
  /** Likewise another fusion method for a hybrid evaluation. */
  fusion?: FusionMethod | undefined;
  /** Called after each question is retrieved. */
  onProgress?: (done: number, total: number) => Promise<void> | void;
}

/** Evaluates one version on one golden set version, stores the report and its TREC files, and returns the report. */
export async function evaluateVersion(deps: EvaluateDeps, request: EvaluateRequest): Promise<EvaluationReport> {
  const k = request.k ?? Math.min(deps.evaluation.defaultK, deps.evaluation.maxTopK);
  if (!Number.isInteger(k) || k < 1 || k > deps.evaluation.maxTopK) throw new InvalidRequestError(`k must be an integer from 1 to ${deps.evaluation.maxTopK} (evaluation.maxTopK); got ${k}`);
  const { record, set } = await readGoldenSet(deps.store, request.goldenSet.name, request.goldenSet.version);
  const target = await deps.catalog.open(request.version);
  const cutoffs = [...deps.evaluation.cutoffs].sort((a, b) => a - b);
  const total = set.questions.length;
  const mode = queryMode(target.record, request.mode);
  const fusion = queryFusion(target.record, mode, request.fusion);
  const hits = await retrieveAll(deps, target, set.questions.map((q) => q.question), k, (done) => request.onProgress?.(done, total), { mode, fusion });
  const resolve = await chunkRefResolver(deps.store, target, set.questions);
  const scored = set.questions.map((question, i) => scoreQuestion(question, hits[i] as RetrievedChunk[], set.judgmentLevel, cutoffs, resolve));

  const id = `${request.version}.${record.name}.v${record.version}.${randomUUID().slice(0, 8)}`;
  const tag = `ragops-${request.version}`;
  const report: EvaluationReport = {
    id,
    version: request.version,
    mode,
    ...(fusion ? { fusion } : {}),
    goldenSet: { name: record.name, version: record.version, judgmentLevel: set.judgmentLevel },
    k,
    cutoffs,
    createdAt: new Date().toISOString(),
    questions: scored.map((s) => s.row),
    aggregates: aggregateRows(
      scored.map((s) => s.row),
      deps.evaluation.bootstrap,
    ),
    trec: { run: runKey(id), qrels: qrelsKey(id), tag },
  };
  await deps.store.put(runKey(id), formatRun(new Map(scored.map((s) => [s.row.id, s.ranking])), tag), { contentType: "text/plain; charset=utf-8" });
  await deps.store.put(qrelsKey(id), formatQrels(new Map(scored.map((s) => [s.row.id, s.judgments]))), { contentType: "text/plain; charset=utf-8" });
  await saveReport(deps.store, report);
  return report;
}

/** Writes (or rewrites, e.g. with the gate's verdict) a report. */
export async function saveReport(store: ObjectStore, report: EvaluationReport): Promise<void> {
  await writeJson(store, reportKey(report.id), report);
}

export async function readReport(store: ObjectStore, id: string): Promise<EvaluationReport> {
  const parsed = evaluationIdSchema.safeParse(id);
  if (!parsed.success) throw new InvalidRequestError(`invalid evaluation id ${JSON.stringify(id)}: ${parsed.error.issues[0]?.message ?? "bad id"}`);
  const found = await readJson<EvaluationReport>(store, reportKey(parsed.data));
  if (!found) throw new NotFoundError(`evaluation ${id} not found`);
  return found.value;
}

export async function readRunFile(store: ObjectStore, id: string): Promise<string> {
  const report = await readReport(store, id);
  return (await store.get(report.trec.run)).body.toString("utf8");
}

export interface ScoredQuestion {
  row: QuestionRow;
  ranking: ScoredDoc[];
  judgments: Map<string, number>;
}

export type ResolveRef = (ref: string) => string;

/** `<documentId>#<ordinal>` references become the chunk hashes the version's chunking profile cut at those positions. */
async function chunkRefResolver(store: ObjectStore, target: OpenVersion, questions: readonly GoldenQuestion[]): Promise<ResolveRef> {
  const documents = new Set<string>();
  for (const q of questions) {
    for (const ref of [...(q.relevantChunks ?? []), ...(q.graded ?? []).map((g) => g.id)]) {
      const parsed = parseChunkRef(ref);
      if (parsed?.kind === "ordinal") documents.add(parsed.documentId);
    }
  }
  const hashes = new Map<string, string>();
  for (const documentId of documents) {
    const manifest = await readManifest(store, target.profile, documentId);
    for (const chunk of manifest?.chunks ?? []) hashes.set(`${documentId}#${chunk.ordinal}`, chunk.hash);
  }
  // An ordinal the version does not have stays as written: it counts as relevant and is never retrieved.
  return (ref) => hashes.get(ref) ?? ref;
}

/** The question's judgments (docno → grade) at the set's level; empty when it has reference contexts only. */
function idJudgments(question: GoldenQuestion, level: JudgmentLevel, resolve: ResolveRef): Map<string, number> {
  const judgments = new Map<string, number>();
  const key = (id: string) => (level === "chunk" ? resolve(id) : id);
  for (const id of question.relevantDocuments ?? []) judgments.set(id, 1);
  for (const id of question.relevantChunks ?? []) judgments.set(key(id), 1);
  for (const { id, grade } of question.graded ?? []) judgments.set(key(id), grade);
  return judgments;
}

/**
 * Judgments of a question with reference contexts only: the retrieved chunks
 * (or their documents) whose text matches one, as a whole (ragas' similarity)
 * or by containing it (contained.ts): a sentence-long reference is never
 * similar to a paragraph-long chunk as a whole, yet it is found in one.
 */
function contextJudgments(question: GoldenQuestion, hits: readonly RetrievedChunk[], level: JudgmentLevel): Map<string, number> {
  const references = question.referenceContexts ?? [];
  const judgments = new Map<string, number>();
  for (const hit of hits) {
    if (!references.some((reference) => stringSimilarity(hit.text, reference) >= RAGAS_DEFAULT_THRESHOLD || containedSimilarity(reference, hit.text) >= CONTAINED_DEFAULT_THRESHOLD)) continue;
    for (const id of level === "chunk" ? [hit.chunkId] : hit.documentIds) judgments.set(id, 1);
  }
  return judgments;
}

/**
 * One question's row: its judgments at the set's level (chunk references
 * resolved by `resolve`), the ranking scored, and every metric. What an
 * evaluation run does with each question once retrieval has answered it.
 */
export function scoreQuestion(question: GoldenQuestion, hits: readonly RetrievedChunk[], level: JudgmentLevel, cutoffs: readonly number[], resolve: ResolveRef = (ref) => ref): ScoredQuestion {
  const byIds = idJudgments(question, level, resolve);
  const judgedByIds = byIds.size > 0;
  const judgments = judgedByIds ? byIds : contextJudgments(question, hits, level);
  const ranking = rankingFor(level, hits);
  const m = evaluateQuery(question.id, judgments, ranking, { cutoffs });
  const metrics: Record<string, number> = {};
  for (const k of cutoffs) {
    metrics[`hit@${k}`] = m.success[k] as number;
    metrics[`precision@${k}`] = m.precision[k] as number;
    metrics[`recall@${k}`] = m.recall[k] as number;
    metrics[`ndcg@${k}`] = m.ndcg[k] as number;
  }
  metrics.mrr = m.recipRank;
  metrics.map = m.map;
  metrics.rprec = m.rprec;

  // The contexts a RAG would pass on: the first max(cutoffs) chunks, and the ids of the ranking's first max(cutoffs).
  const depth = cutoffs[cutoffs.length - 1] as number;
  const relevant = [...judgments].filter(([, grade]) => grade >= 1).map(([id]) => id);
  if (question.referenceContexts) {
    const contexts = chunkRanking(hits)
      .slice(0, depth)
      .map((c) => (hits.find((h) => h.chunkId === c.docno) as RetrievedChunk).text);
    metrics.context_precision = nonLlmContextPrecision(contexts, question.referenceContexts);
    metrics.context_recall = nonLlmContextRecall(contexts, question.referenceContexts);
    metrics.contained_context_precision = containedContextPrecision(contexts, question.referenceContexts);
    metrics.contained_context_recall = containedContextRecall(contexts, question.referenceContexts);
  }
  if (judgedByIds && relevant.length > 0) {
    const ids = ranking.slice(0, depth).map((d) => d.docno);
    metrics.id_context_precision = idContextPrecision(ids, relevant);
    metrics.id_context_recall = idContextRecall(ids, relevant);
  }
  const speaker = new Map(hits.map((h) => [h.chunkId, h.documentId]));
  // A document's text is its first-ranked chunk's (hits are in the index's order, best first).
  const texts = new Map<string, string>();
  for (const h of hits) for (const id of level === "chunk" ? [h.chunkId] : h.documentIds) if (!texts.has(id)) texts.set(id, h.text);
  const textOf = (docno: string, rank: number) => {
    const text = rank < REPORT_TEXTS ? texts.get(docno) : undefined;
    return text === undefined ? {} : { text: text.length > REPORT_TEXT_CHARS ? `${text.slice(0, REPORT_TEXT_CHARS - 1)}…` : text };
  };
  return {
    row: {
      id: question.id,
      question: question.question,
      retrieved: ranking.map((d, rank) => ({ id: d.docno, score: d.score, documentId: level === "document" ? d.docno : (speaker.get(d.docno) as string), ...textOf(d.docno, rank) })),
      relevant,
      metrics,
    },
    ranking,
    judgments,
  };
}

/** Means with seeded 95 % bootstrap intervals, over the questions that have each metric. */
export function aggregateRows(rows: readonly QuestionRow[], bootstrap: EvaluationConfig["bootstrap"]): Record<string, Aggregate> {
  const names = [...new Set(rows.flatMap((r) => Object.keys(r.metrics)))];
  const out: Record<string, Aggregate> = {};
  for (const name of names) {
    const values = rows.flatMap((r) => (r.metrics[name] === undefined ? [] : [r.metrics[name] as number]));
    const ci = bootstrapMeanCI(values, { resamples: bootstrap.resamples, seed: streamSeed(bootstrap.seed, name) });
    out[name] = { mean: ci.estimate, ci: [ci.lower, ci.upper], n: values.length };
  }
  return out;
}

/** TREC qrels (`qid 0 docno grade`), queries and documents in byte order; a question without judgments has no line. */
export function formatQrels(qrels: ReadonlyMap<string, ReadonlyMap<string, number>>): string {
  const lines: string[] = [];
  for (const qid of [...qrels.keys()].sort(compareBytes)) {
    const judgments = qrels.get(qid) as ReadonlyMap<string, number>;
    for (const docno of [...judgments.keys()].sort(compareBytes)) lines.push(`${qid} 0 ${docno} ${judgments.get(docno)}`);
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
