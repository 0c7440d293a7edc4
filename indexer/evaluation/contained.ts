/**
 * "Contained" context recall and precision: ragas' non-LLM context metrics
 * for reference contexts that are shorter than the retrieved texts. Not a
 * ragas metric.
 *
 * ragas compares a whole retrieved text with a whole reference (ragas.ts).
 * A golden set usually quotes a sentence while a chunk is a paragraph, so the
 * two are never similar enough and its recall is 0 for a perfect retrieval
 * (the bundled northwind set scores 0 on every question). Here a reference
 * counts as found in a retrieved text when it occurs in it approximately:
 *
 * - **Similarity** = 1 − d / |reference|, where d is the semi-global edit
 *   distance (Sellers 1980): the fewest insertions, deletions and
 *   substitutions that turn the reference into some substring of the text
 *   (free start and end in the text). Lengths in code points, as ragas counts.
 *   d ≤ |reference| (every reference turns into the empty substring), so the
 *   similarity is in [0, 1], and 1 exactly when the reference occurs in the text.
 * - **Threshold** 0.8 ({@link CONTAINED_DEFAULT_THRESHOLD}): at most one edit
 *   per five characters of the reference. That absorbs what a quote picks up on
 *   its way into a golden set (a typo, a dropped word, a changed number format,
 *   a few words cut off by a chunk boundary) while a passage that merely shares
 *   the vocabulary stays well below. Measured on the demo corpus (256 chunks of
 *   the default 512 tokens) with the 21 references of examples/golden/northwind.jsonl:
 *   each scores 1 in the chunk that holds it; against the other chunks the
 *   median is 0.34, the 99th percentile 0.48, and the highest 0.69 for every
 *   reference of 50 characters or more. The one exception is the limit to know:
 *   "kept for 90 days, then deleted." (29 characters once normalised) scores
 *   0.83 in "kept for 3 years, then deleted": a short reference that differs
 *   from another sentence only in a figure can match it. Quote a sentence, not
 *   a phrase, or pass a higher threshold.
 * - **Recall** = share of references whose best similarity over the retrieved
 *   texts is ≥ the threshold. **Precision** = ragas' average precision
 *   (ragasAveragePrecision, epsilon included) of the verdicts "this retrieved
 *   text contains some reference". Both use ≥ (ragas' recall uses >).
 *
 * Both sides are normalised first ({@link normalizeForContainment}), so what
 * differs only in formatting is equal: a chunk keeps its markdown (`**dock**`,
 * `# Heading`, list bullets), a reference is usually typed plain.
 *
 * Cost: O(|reference| · |text|) time and one column of the table
 * (O(|reference|) memory) per pair; an exact occurrence is found by
 * `includes` first.
 */
import { checkThreshold, ragasAveragePrecision, requireReferences, type StringMatchOptions } from "./ragas.js";

/** A reference counts as contained at this similarity or above (see the module comment for why 0.8). */
export const CONTAINED_DEFAULT_THRESHOLD = 0.8;

const MARKS = /\p{M}/gu;
const NOT_WORD = /[^\p{L}\p{N}]+/gu;

/**
 * The form both sides are compared in:
 * - compatibility decomposition (NFKD: the folding of NFKC — ligatures, full-width
 *   forms, superscripts — without recomposing), then lowercase;
 * - combining marks dropped (accents: "café" = "cafe" = "cafe\u0301"): a quote typed
 *   without them still matches, and, unlike NFKC's recomposition, this works
 *   code point by code point, so a reference normalises to a substring of any
 *   text that holds it, wherever it sits;
 * - final sigma folded to σ (lowercasing picks ς by context, so the same for the same reason);
 * - every run of characters that are neither letters nor digits (whitespace,
 *   punctuation, markdown emphasis and heading marks) becomes one space, and
 *   the ends are trimmed: "**1.5 m**," and "1.5 m" both read "1 5 m".
 * Scripts that write vowels as combining marks (Devanagari, Thai, Arabic
 * harakat) lose them, which can only make a match more lenient.
 */
export function normalizeForContainment(text: string): string {
  return text.normalize("NFKD").toLowerCase().normalize("NFKD").replace(MARKS, "").replace(/ς/g, "σ").replace(NOT_WORD, " ").trim();
}

const codePoints = (text: string): Int32Array => Int32Array.from(Array.from(text, (c) => c.codePointAt(0) as number));

/**
 * Semi-global edit distance of two code point sequences: column by column
 * over the text, one column of the table over the pattern.
 */
function substringDistance(pattern: Int32Array, text: Int32Array): number {
  const m = pattern.length;
  // column[i]: edits turning pattern[0..i) into a substring of the text that ends at the current position.
  const column = new Int32Array(m + 1);
  for (let i = 0; i <= m; i++) column[i] = i;
  let best = m;
  for (let j = 0; j < text.length && best > 0; j++) {
    const c = text[j];
    let diagonal = 0; // column[0] before this step: a match may start anywhere in the text for free
    for (let i = 1; i <= m; i++) {
      const left = column[i] as number;
      const substitution = diagonal + (pattern[i - 1] === c ? 0 : 1);
      const insertion = left + 1; // the text's character is extra
      const deletion = (column[i - 1] as number) + 1; // the pattern's character is missing
      column[i] = Math.min(substitution, insertion, deletion);
      diagonal = left;
    }
    best = Math.min(best, column[m] as number);
  }
  return best;
}

/** The fewest edits turning `pattern` into some substring of `text` (code points, no normalisation). */
export function substringEditDistance(pattern: string, text: string): number {
  if (text.includes(pattern)) return 0;
  return substringDistance(codePoints(pattern), codePoints(text));
}

interface Prepared {
  text: string;
  points: Int32Array;
}

const prepare = (text: string): Prepared => {
  const normalized = normalizeForContainment(text);
  return { text: normalized, points: codePoints(normalized) };
};

function preparedSimilarity(reference: Prepared, text: Prepared): number {
  if (reference.points.length === 0 || text.text.includes(reference.text)) return 1;
  return 1 - substringDistance(reference.points, text.points) / reference.points.length;
}

/**
 * How nearly `reference` occurs in `text`: 1 − substring edit distance /
 * reference length, both normalised. A reference with no letter or digit is
 * empty once normalised, and the empty string occurs in every text: 1.
 */
export function containedSimilarity(reference: string, text: string): number {
  return preparedSimilarity(prepare(reference), prepare(text));
}

/** contains[t][r]: whether retrieved text t contains reference r at the threshold; each text normalised once. */
function containment(retrieved: readonly string[], references: readonly string[], threshold: number): boolean[][] {
  const refs = references.map(prepare);
  return retrieved.map((text) => {
    const prepared = prepare(text);
    return refs.map((reference) => preparedSimilarity(reference, prepared) >= threshold);
  });
}

/** The share of reference contexts contained (approximately) in some retrieved text. */
export function containedContextRecall(retrieved: readonly string[], references: readonly string[], options: StringMatchOptions = {}): number {
  requireReferences("contained context recall", references);
  const contains = containment(retrieved, references, checkThreshold(options, CONTAINED_DEFAULT_THRESHOLD));
  return references.filter((_, r) => contains.some((row) => row[r])).length / references.length;
}

/** ragas' average precision of the retrieved texts, each relevant when it contains (approximately) some reference context. */
export function containedContextPrecision(retrieved: readonly string[], references: readonly string[], options: StringMatchOptions = {}): number {
  requireReferences("contained context precision", references);
  return ragasAveragePrecision(containment(retrieved, references, checkThreshold(options, CONTAINED_DEFAULT_THRESHOLD)).map((row) => row.some(Boolean)));
}
