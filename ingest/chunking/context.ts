import { countTokens } from "../tokenizer.js";

/**
 * The heading path a chunk carries in its text: "Manual > Install > Linux",
 * then a blank line, then the chunk's own text. A window in the middle of a
 * long section has no heading of its own; the line gives it the context a
 * search needs, and a heading never has to stand alone to be found.
 */
const CONTEXT_SEPARATOR = " > ";

/** The context line takes at most this share of a chunk's tokens; a longer path loses its outer headings first. */
const CONTEXT_SHARE = 1 / 8;

export function contextLine(headingPath: readonly string[], sizeTokens: number): string {
  if (headingPath.length === 0) return "";
  const budget = Math.max(1, Math.floor(sizeTokens * CONTEXT_SHARE));
  for (let k = 0; k < headingPath.length; k += 1) {
    const line = headingPath.slice(k).join(CONTEXT_SEPARATOR);
    if (countTokens(line) <= budget) return line;
  }
  // One heading longer than the budget (a PDF outline entry can be a sentence): its first words.
  const words = (headingPath.at(-1) as string).split(" ");
  let line = "";
  for (const word of words) {
    const next = line ? `${line} ${word}` : word;
    if (countTokens(`${next} …`) > budget) break;
    line = next;
  }
  // Not even one word fits: its first characters (at most 4 tokens each, UTF-8 being at most 4 bytes).
  return line ? `${line} …` : `${(words[0] as string).slice(0, Math.max(1, Math.floor((budget - 3) / 4)))}…`;
}

/** Tokens a context line adds to a chunk: its own, the blank line after it, and one for a merge at the seam. */
export function contextTokens(line: string): number {
  return line ? countTokens(`${line}\n\n`) + 1 : 0;
}
