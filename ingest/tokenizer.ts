import { countTokens as count, decode, encodeGenerator, isWithinTokenLimit } from "gpt-tokenizer";

// Text such as "<|endoftext|>" in a user's document is ordinary text, not a control token.
const asPlainText = { disallowedSpecial: new Set<string>(), allowedSpecial: new Set<string>() };

export function countTokens(text: string): number {
  return count(text, asPlainText);
}

export interface Truncated {
  /** The text, or its beginning when it had more tokens than allowed: always a prefix of the input. */
  text: string;
  /** Tokens of `text`. */
  tokens: number;
  truncated: boolean;
}

/**
 * The longest beginning of `text` with at most `maxTokens` tokens (or close to
 * it: a cut inside a character steps back to the character before). Encodes
 * only as far as the limit, so a megabyte of text costs no more than its head.
 */
export function truncateToTokens(text: string, maxTokens: number): Truncated {
  const within = isWithinTokenLimit(text, maxTokens, asPlainText);
  if (within !== false) return { text, tokens: within, truncated: false };
  const head: number[] = [];
  for (const piece of encodeGenerator(text, asPlainText)) {
    head.push(...piece);
    if (head.length > maxTokens) break;
  }
  // Decoding a token prefix and encoding it again can differ at the cut, so count what is returned.
  let keep = maxTokens;
  for (;;) {
    const prefix = prefixOf(text, decode(head.slice(0, keep)));
    const tokens = countTokens(prefix);
    if (tokens <= maxTokens) return { text: prefix, tokens, truncated: true };
    keep -= tokens - maxTokens;
  }
}

/** `decoded` shortened until it is a prefix of `text` (a token boundary inside a character decodes to U+FFFD) and ends on a whole character. */
function prefixOf(text: string, decoded: string): string {
  let prefix = decoded;
  while (!text.startsWith(prefix)) prefix = prefix.slice(0, -1);
  const last = prefix.charCodeAt(prefix.length - 1);
  return last >= 0xd800 && last <= 0xdbff ? prefix.slice(0, -1) : prefix;
}
