import { O200K_TOKEN_SPLIT_REGEX } from "gpt-tokenizer/encodingParams/constants";
import { countTokens } from "../tokenizer.js";

/**
 * Exact token counts of any span of one text, without tokenising the span
 * again. Chunking asks for the count of many overlapping spans of a document
 * (blocks, then joined blocks, windows, overlap tails): counted one by one,
 * each character was tokenised 2.4 times on the shared corpus.
 *
 * The tokenizer first cuts text into pieces with a regular expression and
 * counts each piece on its own, so a text's count is the sum over its pieces.
 * The whole text is cut once, with prefix sums of the piece counts; a span
 * `[start, end)` is cut the same way as the whole text except near its two
 * ends, where the expression sees the span's edges instead of the
 * neighbouring characters. So a span is counted as: its own pieces from
 * `start` until one ends on a boundary of the whole text's cut (from there on
 * both cuts agree), the whole text's pieces after that, and its own pieces
 * again over its last stretch, from a boundary far enough from `end` that no
 * piece before it can have looked past `end`.
 */
export interface TokenCounter {
  /** Tokens of `text.slice(start, end)`, exactly as countTokens counts them. */
  count(start: number, end: number): number;
}

/** Spans shorter than this are simply counted: the bookkeeping would cost more. */
const DIRECT_BELOW = 96;
/**
 * Characters a piece's match may read past the piece's end, beyond the run of
 * whitespace after it: a letter run's optional contraction ("'ll", "'re") is
 * three, and the lookahead or end of a whitespace run one more.
 */
const LOOKAHEAD = 4;

/** A regular expression is stateful (lastIndex): each use gets its own. */
const splitter = () => new RegExp(O200K_TOKEN_SPLIT_REGEX.source, "gu");

/** Pieces are mostly words, and words repeat across documents: their counts are kept, up to a bound. */
const MAX_REMEMBERED_PIECES = 200_000;
const pieceCounts = new Map<string, number>();
function countPiece(piece: string): number {
  let n = pieceCounts.get(piece);
  if (n === undefined) {
    if (pieceCounts.size >= MAX_REMEMBERED_PIECES) pieceCounts.clear();
    pieceCounts.set(piece, (n = countTokens(piece)));
  }
  return n;
}

export function createTokenCounter(text: string): TokenCounter {
  // Piece boundaries of the whole text, and tokens before each.
  const bounds: number[] = [0];
  const before: number[] = [0];
  const re = splitter();
  let covered = 0;
  let total = 0;
  for (let m = re.exec(text); m; m = re.exec(text)) {
    if (m.index !== covered) return { count: (start, end) => countTokens(text.slice(start, end)) }; // a gap in the cut: never seen, but never wrong
    covered = m.index + m[0].length;
    total += countPiece(m[0]);
    bounds.push(covered);
    before.push(total);
  }
  const boundaryIndex = (offset: number) => {
    // Index of the last boundary at or before offset.
    let lo = 0;
    let hi = bounds.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if ((bounds[mid] as number) <= offset) lo = mid;
      else hi = mid - 1;
    }
    return lo;
  };
  const isBoundary = (offset: number) => bounds[boundaryIndex(offset)] === offset;

  /** Counts the span's own pieces from `from` (a text offset) to `end`, stopping early at the first whole-text boundary at or after `stopAt`. */
  const ownPieces = (span: string, spanStart: number, from: number, stopAt: number): { tokens: number; reached: number } => {
    const local = splitter();
    local.lastIndex = from - spanStart;
    let tokens = 0;
    for (let m = local.exec(span); m; m = local.exec(span)) {
      tokens += countPiece(m[0]);
      const reached = spanStart + m.index + m[0].length;
      if (reached >= stopAt && isBoundary(reached)) return { tokens, reached };
    }
    return { tokens, reached: spanStart + span.length };
  };

  return {
    count(start, end) {
      if (end - start < DIRECT_BELOW) return end > start ? countTokens(text.slice(start, end)) : 0;
      const span = text.slice(start, end);
      // The last offset whose pieces cannot have looked past `end`: at or before a non-space character that far from it.
      let safe = end - 1 - LOOKAHEAD;
      while (safe > start && /\s/.test(text[safe] as string)) safe -= 1;
      const head = ownPieces(span, start, start, start + 1);
      if (head.reached >= safe) return head.tokens + (head.reached < end ? ownPieces(span, start, head.reached, end + 1).tokens : 0);
      const last = boundaryIndex(safe);
      const middle = (before[last] as number) - (before[boundaryIndex(head.reached)] as number);
      return head.tokens + middle + ownPieces(span, start, bounds[last] as number, end + 1).tokens;
    },
  };
}

let lastText: string | undefined;
let lastCounter: TokenCounter | undefined;

/**
 * Tokens of `text.slice(start, end)`. Chunking works through one document's
 * text at a time, synchronously, so the counter of the text it last asked
 * about is kept: a document is cut into pieces once, however many spans of
 * it are counted.
 */
export function tokensIn(text: string, start: number, end: number): number {
  if (text !== lastText || !lastCounter) {
    lastText = text;
    lastCounter = createTokenCounter(text);
  }
  return lastCounter.count(start, end);
}

/**
 * Tokens of `${line}\n\n${body}`, from the count of `${line}\n\n` and the
 * body's count. Exact when the body starts with a character that is neither
 * a space nor '/': no piece of the tokenizer then spans the seam (a line
 * ending in punctuation takes the line breaks and any '/' after them into
 * its last piece). Otherwise the text is counted whole.
 */
export function tokensWithLeadLine(line: string, lineTokens: number, body: string, bodyTokens: number): number {
  return /^[^\s/]/u.test(body) ? lineTokens + bodyTokens : countTokens(`${line}\n\n${body}`);
}
