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
  forEachTerm(text, (term) => terms.push(term));
  return terms;
}

/** Calls `onTerm` with each term of the text, in order. */
function forEachTerm(text: string, onTerm: (term: string) => void): void {
  const keep = (word: string) => {
    const term = withoutApostrophes(word);
    if (term.length > 0 && term.length <= MAX_TERM_LENGTH && !STOP_WORDS.has(term)) onTerm(term);
  };
  if (!NOT_PLAIN_ASCII.test(text)) {
    asciiWords(text, keep);
    return;
  }
  for (const match of fold(text).matchAll(WORD)) keep(match[0]);
}

const isAsciiAlnum = (c: number) => (c >= 97 && c <= 122) || (c >= 48 && c <= 57) || (c >= 65 && c <= 90);
const APOSTROPHE = 39;

/**
 * The words WORD finds, for printable ASCII text (most chunks), by a scan of
 * char codes instead of a Unicode regex: a third of the time. NFKC and
 * folding change nothing in such text; only case is lowered.
 */
function asciiWords(text: string, onWord: (word: string) => void): void {
  const n = text.length;
  let i = 0;
  while (i < n) {
    if (!isAsciiAlnum(text.charCodeAt(i))) {
      i += 1;
      continue;
    }
    const start = i;
    for (;;) {
      while (i < n && isAsciiAlnum(text.charCodeAt(i))) i += 1;
      // An apostrophe continues the word only when a letter or digit follows it.
      if (i + 1 < n && text.charCodeAt(i) === APOSTROPHE && isAsciiAlnum(text.charCodeAt(i + 1))) i += 1;
      else break;
    }
    onWord(text.slice(start, i).toLowerCase());
  }
}

/** The query's terms a text holds, each once, in query order: what a text-mode search result highlights. */
export function matchedTerms(query: string, text: string): string[] {
  const held = new Set(analyze(text));
  return [...new Set(analyze(query))].filter((term) => held.has(term));
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
  // Every term's id, sorted, then counted in runs: a Map per chunk costs twice as much at ingest.
  const terms = analyze(text);
  const all = new Uint32Array(terms.length);
  for (let i = 0; i < terms.length; i++) all[i] = termId(terms[i] as string);
  all.sort();
  let distinct = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) distinct += 1;
  const ids = new Uint32Array(distinct);
  const counts = new Uint32Array(distinct);
  let at = -1;
  for (let i = 0; i < all.length; i++) {
    if (i === 0 || all[i] !== all[i - 1]) ids[(at += 1)] = all[i] as number;
    counts[at] = (counts[at] as number) + 1;
  }
  return { ids, counts, length: terms.length };
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
