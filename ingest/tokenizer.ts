import { countTokens as count } from "gpt-tokenizer";

// Text such as "<|endoftext|>" in a user's document is ordinary text, not a control token.
const asPlainText = { disallowedSpecial: new Set<string>(), allowedSpecial: new Set<string>() };

export function countTokens(text: string): number {
  return count(text, asPlainText);
}
