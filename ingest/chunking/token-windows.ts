import { countTokens } from "../tokenizer.js";

/**
 * Token windows over whole words: a window's text is an exact slice of its
 * input, so offsets are exact and no word is cut in half.
 */
export interface Window {
  charStart: number;
  charEnd: number;
  tokenCount: number;
}

interface Piece {
  start: number;
  end: number;
  tokens: number;
}

/** Words with the whitespace that follows them; counting tokens per piece keeps this linear. */
export function splitPieces(text: string): Piece[] {
  const pieces: Piece[] = [];
  for (const match of text.matchAll(/\S+\s*/g)) {
    const start = match.index ?? 0;
    const end = start + match[0].length;
    pieces.push({ start, end, tokens: countTokens(match[0]) });
  }
  return pieces;
}

export function tokenWindows(text: string, sizeTokens: number, overlapTokens: number): Window[] {
  const pieces = splitPieces(text);
  const windows: Window[] = [];
  let first = 0;
  while (first < pieces.length) {
    let last = first;
    let tokens = pieces[first]?.tokens ?? 0;
    while (last + 1 < pieces.length && tokens + (pieces[last + 1]?.tokens ?? 0) <= sizeTokens) {
      last += 1;
      tokens += pieces[last]?.tokens ?? 0;
    }
    const startPiece = pieces[first] as Piece;
    const endPiece = pieces[last] as Piece;
    windows.push({ charStart: startPiece.start, charEnd: endPiece.end, tokenCount: tokens });
    if (last + 1 >= pieces.length) break;
    // Step back from the window's end until `overlapTokens` are shared with the next window.
    let next = last + 1;
    let shared = 0;
    while (next - 1 > first && shared + (pieces[next - 1]?.tokens ?? 0) <= overlapTokens) {
      next -= 1;
      shared += pieces[next]?.tokens ?? 0;
    }
    first = next;
  }
  return windows;
}
