import { tokensIn } from "./token-counter.js";

/** A piece of a document's text: [start, end) offsets and its token count. */
export interface Span {
  start: number;
  end: number;
  tokens: number;
}

const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/**
 * Blocks: runs of non-blank lines. A fenced code block is one block even when
 * it holds blank lines. Spans are trimmed of surrounding whitespace.
 */
export function splitBlocks(text: string, start: number, end: number): Span[] {
  const blocks: Span[] = [];
  let blockStart = -1;
  let fence: string | undefined;
  let lineStart = start;
  while (lineStart < end) {
    const newline = text.indexOf("\n", lineStart);
    const lineEnd = newline === -1 || newline >= end ? end : newline;
    const line = text.slice(lineStart, lineEnd);
    const marker = FENCE.exec(line)?.[1];
    if (marker && (!fence || (marker[0] === fence[0] && marker.length >= fence.length))) fence = fence ? undefined : marker;
    if (line.trim() === "" && !fence) {
      if (blockStart >= 0) blocks.push(trimmed(text, blockStart, lineStart));
      blockStart = -1;
    } else if (blockStart < 0) blockStart = lineStart;
    lineStart = lineEnd + 1;
  }
  if (blockStart >= 0) blocks.push(trimmed(text, blockStart, end));
  return blocks.filter((b) => b.end > b.start);
}

/**
 * Sentences (and lines, which end list items and table rows) inside a span.
 * A sentence ends at . ! ? (with closing quotes or brackets) before whitespace.
 */
export function splitSentences(text: string, span: Pick<Span, "start" | "end">): Span[] {
  const pieces: Span[] = [];
  const slice = text.slice(span.start, span.end);
  let pieceStart = 0;
  for (const match of slice.matchAll(/[.!?…]+["'”’)\]]*(?=\s)|\n/g)) {
    const cut = (match.index ?? 0) + (match[0] === "\n" ? 0 : match[0].length);
    if (cut > pieceStart) pieces.push(trimmed(text, span.start + pieceStart, span.start + cut));
    pieceStart = cut;
  }
  if (pieceStart < slice.length) pieces.push(trimmed(text, span.start + pieceStart, span.end));
  return pieces.filter((p) => p.end > p.start);
}

/** Words with their following whitespace, for text no sentence boundary can split small enough. */
export function splitWords(text: string, span: Pick<Span, "start" | "end">): Span[] {
  const words: Span[] = [];
  for (const match of text.slice(span.start, span.end).matchAll(/\S+/g)) {
    const start = span.start + (match.index ?? 0);
    words.push({ start, end: start + match[0].length, tokens: tokensIn(text, start, start + match[0].length) });
  }
  return words;
}

export function trimmed(text: string, start: number, end: number): Span {
  let s = start;
  let e = end;
  while (s < e && /\s/.test(text[s] ?? "")) s += 1;
  while (e > s && /\s/.test(text[e - 1] ?? "")) e -= 1;
  return { start: s, end: e, tokens: tokensIn(text, s, e) };
}

export function tokensOf(text: string, start: number, end: number): number {
  return tokensIn(text, start, end);
}
