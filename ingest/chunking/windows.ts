import { createHash } from "node:crypto";
import { normalizeText } from "../normalize.js";
import { splitSentences, splitWords, tokensOf, type Span } from "./spans.js";

/**
 * Token windows inside one section (or one group of joined sections).
 *
 * Text is cut at three levels: blocks (paragraphs, lists, code blocks), then,
 * for a block longer than `size`, sentences, then, for an over-long sentence,
 * words. At each level a piece is an *anchor* when a hash of its last words,
 * read as a number in [0, 1), is below tokens/size: anchors come about once
 * per `size` tokens and whether a piece is one depends on that piece alone. Anchors end *segments*; windows are packed greedily inside a
 * segment and never cross an anchor, so an edit moves window boundaries only
 * inside its own segment and every other chunk keeps its text and hash.
 *
 * Overlap carries context across a cut in running text: consecutive windows
 * inside one block share up to `overlap` tokens (whole sentences, else whole
 * words). A window that ends where a block ends cuts no running text and
 * repeats nothing; that is also what keeps an inserted paragraph from
 * rewriting its neighbour's chunk.
 */
export interface WindowOptions {
  sizeTokens: number;
  overlapTokens: number;
}

type Level = "block" | "sentence" | "word";

/** A block shorter than this is not left alone at the end of a window when text follows it (a heading, a label). */
const ORPHAN_TOKENS = 16;
/** Words before a boundary that decide its strength. */
const BOUNDARY_WORDS = 6;
/** A segment smaller than this share of `size` joins the window before it when that window has room. */
const SMALL_SEGMENT_RATIO = 0.25;

/** Windows over the blocks of one section group (from splitBlocks, in order). */
export function planWindows(text: string, blocks: Span[], options: WindowOptions): Span[] {
  return windowsOf(text, blocks, "block", options);
}

function windowsOf(text: string, pieces: Span[], level: Level, options: WindowOptions): Span[] {
  const size = options.sizeTokens;
  const windows: Span[] = [];
  for (const segment of segments(text, pieces, size)) {
    const only = segment[0] as Span;
    if (segment.length === 1 && only.tokens > size) {
      windows.push(...windowsOf(text, finer(text, only, level), level === "block" ? "sentence" : "word", options));
      continue;
    }
    const packed = level === "block" ? split(text, segment, 0, segment.length - 1, size) : pack(text, segment, level, options.overlapTokens, size);
    const previous = windows.at(-1);
    const last = segment.at(-1) as Span;
    if (packed.length === 1 && previous && (packed[0] as Span).tokens < size * SMALL_SEGMENT_RATIO) {
      const joined = tokensOf(text, previous.start, last.end);
      if (joined <= size) {
        windows[windows.length - 1] = { start: previous.start, end: last.end, tokens: joined };
        continue;
      }
    }
    windows.push(...packed);
  }
  return windows;
}

/** Consecutive pieces up to and including an anchor; a piece longer than `size` stands alone. */
function segments(text: string, pieces: Span[], size: number): Span[][] {
  const out: Span[][] = [];
  let current: Span[] = [];
  for (const piece of pieces) {
    if (piece.tokens > size) {
      if (current.length) out.push(current);
      out.push([piece]);
      current = [];
      continue;
    }
    current.push(piece);
    if (isAnchor(text, piece, size)) {
      out.push(current);
      current = [];
    }
  }
  if (current.length) out.push(current);
  return out;
}

function isAnchor(text: string, piece: Span, size: number): boolean {
  return pieceHash(text, piece) < piece.tokens / size;
}

/**
 * A number in [0, 1) from the last words of the piece: the strength of the
 * boundary after it. Like a rolling hash in content-defined chunking it looks
 * only at text next to the boundary, so changing a word in the middle of a
 * paragraph moves no cut.
 */
function pieceHash(text: string, piece: Span): number {
  const tail = text.slice(Math.max(piece.start, piece.end - 400), piece.end).split(/\s+/).slice(-BOUNDARY_WORDS).join(" ");
  const digest = createHash("sha256").update(normalizeText(tail)).digest();
  return digest.readUInt32BE(0) / 2 ** 32;
}

/**
 * A segment that does not fit one window is cut after its piece with the
 * lowest hash, and each side again, until every part fits. Like the anchors,
 * the cut depends on content, not on position: an inserted paragraph changes
 * the one window it lands in (two when that window overflows), never the
 * windows beside it.
 */
function split(text: string, pieces: Span[], lo: number, hi: number, size: number): Span[] {
  const first = pieces[lo] as Span;
  const last = pieces[hi] as Span;
  let estimate = hi - lo;
  for (let k = lo; k <= hi; k += 1) estimate += (pieces[k] as Span).tokens;
  if (estimate <= size + 8 || lo === hi) {
    const tokens = lo === hi ? first.tokens : tokensOf(text, first.start, last.end);
    if (tokens <= size || lo === hi) return [{ start: first.start, end: last.end, tokens }];
  }
  let cut = lo;
  let lowest = Infinity;
  for (let k = lo; k < hi; k += 1) {
    const piece = pieces[k] as Span;
    // A heading or label never ends a window while text follows it.
    const h = piece.tokens < ORPHAN_TOKENS ? 1 + pieceHash(text, piece) : pieceHash(text, piece);
    if (h < lowest) {
      lowest = h;
      cut = k;
    }
  }
  return [...split(text, pieces, lo, cut, size), ...split(text, pieces, cut + 1, hi, size)];
}

function finer(text: string, piece: Span, level: Level): Span[] {
  if (level === "block") return splitSentences(text, piece);
  const words = splitWords(text, piece);
  // A "word" longer than a window (a URL, base64) is cut by characters as a last resort.
  return words.flatMap((word) => (word.tokens > 0 && words.length === 1 ? hardSplit(text, word) : [word]));
}

function hardSplit(text: string, piece: Span): Span[] {
  const parts = Math.max(2, Math.ceil(piece.tokens / 256));
  const step = Math.ceil((piece.end - piece.start) / parts);
  const out: Span[] = [];
  for (let s = piece.start; s < piece.end; s += step) {
    const e = Math.min(piece.end, s + step);
    out.push({ start: s, end: e, tokens: tokensOf(text, s, e) });
  }
  return out;
}

/**
 * Greedy packing of consecutive pieces into windows of at most `size` tokens;
 * with `overlap` > 0 each window after the first starts with the tail of the
 * previous window.
 */
function pack(text: string, pieces: Span[], level: Level, overlap: number, size: number): Span[] {
  const windows: Span[] = [];
  let i = 0;
  let lead: number | undefined; // start of the tail carried over from the previous window
  while (i < pieces.length) {
    const first = pieces[i] as Span;
    const start = lead ?? first.start;
    let j = i;
    let estimate = lead === undefined ? first.tokens : tokensOf(text, start, first.end);
    while (j + 1 < pieces.length && estimate + 1 + (pieces[j + 1] as Span).tokens <= size) {
      j += 1;
      estimate += 1 + (pieces[j] as Span).tokens;
    }
    if (level === "block" && j > i && j + 1 < pieces.length && (pieces[j] as Span).tokens < ORPHAN_TOKENS) j -= 1;
    // Estimates add up piece counts; the exact count of the joined text decides.
    let tokens = j === i && lead === undefined ? first.tokens : tokensOf(text, start, (pieces[j] as Span).end);
    while (tokens > size && j > i) {
      j -= 1;
      tokens = tokensOf(text, start, (pieces[j] as Span).end);
    }
    if (tokens > size && lead !== undefined) {
      lead = undefined; // the carried tail does not fit beside this piece: start without it
      continue;
    }
    windows.push({ start, end: (pieces[j] as Span).end, tokens });
    i = j + 1;
    lead = overlap > 0 && i < pieces.length ? tailStart(text, pieces, i - 1, Math.min(overlap, size - 1 - (pieces[i] as Span).tokens)) : undefined;
  }
  return windows;
}

/** Start of the longest run of pieces ending at `last` that fits in `budget` tokens (never the whole window's first piece's predecessor). */
function tailStart(text: string, pieces: Span[], last: number, budget: number): number | undefined {
  if (budget <= 0) return undefined;
  const end = (pieces[last] as Span).end;
  let start: number | undefined;
  for (let k = last; k >= 0; k -= 1) {
    const candidate = (pieces[k] as Span).start;
    if (tokensOf(text, candidate, end) > budget) break;
    start = candidate;
  }
  if (start !== undefined) return start;
  // The last piece alone is too long: carry its last words instead.
  const words = splitWords(text, pieces[last] as Span);
  for (let k = words.length - 1; k > 0; k -= 1) {
    const candidate = (words[k] as Span).start;
    if (tokensOf(text, candidate, end) > budget) break;
    start = candidate;
  }
  return start;
}
