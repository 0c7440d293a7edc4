/**
 * RAGAS context precision and context recall, the forms that need no LLM,
 * with ragas 0.4's formulas (src/ragas/metrics/_context_precision.py,
 * _context_recall.py, _string.py and their metrics/collections twins):
 *
 * - Non-LLM, "with reference contexts": a retrieved text matches a reference
 *   text when their similarity — 1 minus the Levenshtein distance normalised by
 *   the longer length (rapidfuzz's `normalized_distance`, counted in code
 *   points) — reaches the threshold, 0.5 by default. Precision marks each
 *   retrieved text relevant when its best similarity is **≥** the threshold and
 *   takes the average precision; recall counts the reference texts whose best
 *   similarity is **>** the threshold (ragas uses ≥ in one and > in the other;
 *   kept as is).
 * - Average precision is ragas' own: sum over ranks k of precision@k · v_k,
 *   divided by (number of relevant retrieved + 1e-10). The epsilon is ragas'
 *   too, which is why ragas reports 0.9999999999 for a perfect ranking.
 * - Id-based: precision = |set(retrieved) ∩ set(reference)| / |set(retrieved)|,
 *   recall = |set(retrieved) ∩ set(reference)| / |set(reference)|. ragas'
 *   IDBasedContextPrecision is this set precision, not an average precision;
 *   `rankedIdContextPrecision` gives the rank-aware form for those who want it.
 *
 * Where ragas refuses an input (empty retrieval raises in 0.4's collections,
 * gives NaN in the legacy id metrics), these return 0: a question for which
 * nothing was retrieved found nothing. No reference at all is an error.
 */
import { InvalidRequestError } from "../../core/errors.js";

/** ragas' default similarity threshold for its non-LLM context metrics. */
export const RAGAS_DEFAULT_THRESHOLD = 0.5;

export interface StringMatchOptions {
  /** Similarity at which a retrieved text counts as a reference text. @defaultValue 0.5 */
  threshold?: number;
}

/** Levenshtein distance in code points (insert, delete, substitute each cost 1), as rapidfuzz counts a Python str. */
export function levenshtein(a: string, b: string): number {
  let s = Array.from(a);
  let t = Array.from(b);
  if (s.length < t.length) [s, t] = [t, s];
  // One row of the edit-distance table, over the shorter string.
  let row = Array.from({ length: t.length + 1 }, (_, j) => j);
  for (let i = 1; i <= s.length; i++) {
    const next = [i];
    for (let j = 1; j <= t.length; j++) {
      const substitution = (row[j - 1] as number) + (s[i - 1] === t[j - 1] ? 0 : 1);
      next.push(Math.min(substitution, (row[j] as number) + 1, (next[j - 1] as number) + 1));
    }
    row = next;
  }
  return row[t.length] as number;
}

/** ragas' NonLLMStringSimilarity with its default Levenshtein measure: 1 − distance / longer length (1 for two empty strings). */
export function stringSimilarity(a: string, b: string): number {
  const longer = Math.max(Array.from(a).length, Array.from(b).length);
  return longer === 0 ? 1 : 1 - levenshtein(a, b) / longer;
}

/** ragas' average precision over relevance verdicts in rank order (note the 1e-10 in the denominator). */
export function ragasAveragePrecision(verdicts: readonly boolean[]): number {
  let relevantSoFar = 0;
  let numerator = 0;
  verdicts.forEach((relevant, i) => {
    if (!relevant) return;
    relevantSoFar++;
    numerator += relevantSoFar / (i + 1);
  });
  return numerator / (relevantSoFar + 1e-10);
}

/** Refuses a question with no reference: every context metric needs one. */
export function requireReferences(what: string, references: readonly unknown[]): void {
  if (references.length === 0) throw new InvalidRequestError(`${what} needs at least one reference; this question has none`);
}

/** The threshold asked for (else `fallback`), refused outside [0, 1]. */
export function checkThreshold(options: StringMatchOptions, fallback = RAGAS_DEFAULT_THRESHOLD): number {
  const threshold = options.threshold ?? fallback;
  if (!(threshold >= 0 && threshold <= 1)) throw new InvalidRequestError(`threshold ${threshold} must be between 0 and 1`);
  return threshold;
}

const bestSimilarity = (text: string, others: readonly string[]) => others.reduce((best, other) => Math.max(best, stringSimilarity(text, other)), 0);

/** ragas NonLLMContextPrecisionWithReference: average precision of the retrieved texts that match a reference text. */
export function nonLlmContextPrecision(retrieved: readonly string[], references: readonly string[], options: StringMatchOptions = {}): number {
  requireReferences("non-LLM context precision", references);
  const threshold = checkThreshold(options);
  return ragasAveragePrecision(retrieved.map((text) => bestSimilarity(text, references) >= threshold));
}

/** ragas NonLLMContextRecall: the share of reference texts some retrieved text matches. */
export function nonLlmContextRecall(retrieved: readonly string[], references: readonly string[], options: StringMatchOptions = {}): number {
  requireReferences("non-LLM context recall", references);
  const threshold = checkThreshold(options);
  return references.filter((reference) => bestSimilarity(reference, retrieved) > threshold).length / references.length;
}

/** ragas IDBasedContextPrecision: the share of distinct retrieved ids that are reference ids. */
export function idContextPrecision(retrievedIds: readonly string[], referenceIds: readonly string[]): number {
  requireReferences("id-based context precision", referenceIds);
  const retrieved = new Set(retrievedIds);
  const reference = new Set(referenceIds);
  return retrieved.size === 0 ? 0 : [...retrieved].filter((id) => reference.has(id)).length / retrieved.size;
}

/** ragas IDBasedContextRecall: the share of distinct reference ids that were retrieved. */
export function idContextRecall(retrievedIds: readonly string[], referenceIds: readonly string[]): number {
  requireReferences("id-based context recall", referenceIds);
  const retrieved = new Set(retrievedIds);
  const reference = new Set(referenceIds);
  return [...reference].filter((id) => retrieved.has(id)).length / reference.size;
}

/** Not a ragas metric: ragas' average precision with verdicts by id, for a rank-aware id-based precision. */
export function rankedIdContextPrecision(retrievedIds: readonly string[], referenceIds: readonly string[]): number {
  requireReferences("ranked id-based context precision", referenceIds);
  const reference = new Set(referenceIds);
  return ragasAveragePrecision(retrievedIds.map((id) => reference.has(id)));
}
