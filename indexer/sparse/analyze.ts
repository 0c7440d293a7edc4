import { fnv1a32 } from "../../ingest/hash32.js";

/**
 * The terms BM25 scores: what a text is split into on the document side
 * (chunk text, which starts with its heading path) and on the query side, the
 * same way on every index provider.
 *
 * Unicode compatibility forms (NFKC), lowercase, Latin letters folded to
 * ASCII (accents dropped: "Café" is "cafe"; ß, æ, ø, ł and friends spelled
 * out), words as runs of letters, marks and digits (so "BP-48" is "bp" and
 * "48", "E402" stays one word), an English possessive dropped, apostrophes
 * inside a word removed, and a small English stop list (Lucene's 33 words:
 * IDF takes care of the other common words). No stemming: no well-kept
 * stemmer is among our packages, and BM25 without one is the baseline issue
 * 13 measures against. Han and other unspaced scripts become one term per
 * run of characters: usable for exact phrases only.
 *
 * Changing anything here changes the sparse vectors of every index version:
 * it would need a new analyser version pinned in the version config.
 */
export const STOP_WORDS: ReadonlySet<string> = new Set(
  "a an and are as at be but by for if in into is it no not of on or such that the their then there these they this to was will with".split(" "),
);

/** Longer "words" are encoded data (base64, hashes), not something anyone searches for. */
export const MAX_TERM_LENGTH = 64;

const WORD = /[\p{L}\p{N}][\p{L}\p{M}\p{N}]*(?:['’][\p{L}\p{M}\p{N}]+)*/gu;
/** Anything but printable ASCII and line breaks: such text may need folding (other control characters merely take the long way). */
const NOT_PLAIN_ASCII = /[^ -~\t\n\r]/;
const COMBINING_DIACRITICS = /[\u0300-\u036f]/g;
/** Lowercase letters with no canonical decomposition that ASCII folding spells out (as Lucene's ASCIIFoldingFilter does). */
const SPELLED: Record<string, string> = { ß: "ss", æ: "ae", œ: "oe", ø: "o", đ: "d", ð: "d", ł: "l", þ: "th", ı: "i", ħ: "h", ŧ: "t", ŋ: "n", ĸ: "k", ŀ: "l", ς: "σ" };
const SPELLED_CHARS = new RegExp(`[${Object.keys(SPELLED).join("")}]`, "g");

/** The text's terms, in order, repeats kept. */
export function analyze(text: string): string[] {
  const terms: string[] = [];
  for (const match of fold(text).matchAll(WORD)) {
    const term = withoutApostrophes(match[0]);
    if (term.length === 0 || term.length > MAX_TERM_LENGTH || STOP_WORDS.has(term)) continue;
    terms.push(term);
  }
  return terms;
}

/** A term's dimension in every sparse vector: FNV-1a over its UTF-16 code units. Two terms may share one (about one pair in a vocabulary of 90,000); BM25 then scores them as one word. */
export function termId(term: string): number {
  return fnv1a32(term);
}

/** A text's terms counted: unique term ids in ascending order, their counts, and the text's length in terms (the sum of the counts). */
export interface TermCounts {
  ids: Uint32Array;
  counts: Uint32Array;
  length: number;
}

export function countTerms(text: string): TermCounts {
  const byId = new Map<number, number>();
  let length = 0;
  for (const term of analyze(text)) {
    const id = termId(term);
    byId.set(id, (byId.get(id) ?? 0) + 1);
    length += 1;
  }
  const ids = Uint32Array.from(byId.keys()).sort();
  const counts = new Uint32Array(ids.length);
  ids.forEach((id, i) => (counts[i] = byId.get(id) as number));
  return { ids, counts, length };
}

/** NFKC, lowercase, Latin letters to ASCII; ASCII text (most of it) takes the short way. */
function fold(text: string): string {
  const lower = text.normalize("NFKC").toLowerCase();
  if (!NOT_PLAIN_ASCII.test(lower)) return lower;
  // Only the Latin combining diacritics go; other scripts' marks (Devanagari vowel signs) are part of their words.
  return lower.normalize("NFD").replace(COMBINING_DIACRITICS, "").normalize("NFC").replace(SPELLED_CHARS, (ch) => SPELLED[ch] as string);
}

function withoutApostrophes(word: string): string {
  const stem = word.endsWith("'s") || word.endsWith("’s") ? word.slice(0, -2) : word;
  return stem.includes("'") || stem.includes("’") ? stem.replace(/['’]/g, "") : stem;
}
