import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countTokens, truncateToTokens } from "./tokenizer.js";

describe("truncateToTokens", () => {
  it("leaves a text within the limit as it is, with its token count", () => {
    expect(truncateToTokens("Replace the battery pack.", 100)).toEqual({ text: "Replace the battery pack.", tokens: countTokens("Replace the battery pack."), truncated: false });
  });

  it("keeps the beginning of a longer text, at most the limit in tokens", () => {
    const long = "The charging dock aligns the robot before it docks. ".repeat(20_000);
    const cut = truncateToTokens(long, 2_000);
    expect(cut.truncated).toBe(true);
    expect(cut.tokens).toBe(countTokens(cut.text));
    expect(cut.tokens).toBeLessThanOrEqual(2_000);
    expect(cut.tokens).toBeGreaterThan(1_990);
    expect(long.startsWith(cut.text)).toBe(true);
  });

  it("reads control-token text such as <|endoftext|> as plain text", () => {
    expect(truncateToTokens("<|endoftext|> ".repeat(100), 10).tokens).toBeLessThanOrEqual(10);
  });

  it("gives a prefix of the text within the limit, for any text", () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constantFrom("a", " ", "é", "日", "😀", "\n", "<|endoftext|>"), fc.string({ unit: "binary", minLength: 1, maxLength: 1 })), maxLength: 400 }), fc.integer({ min: 1, max: 60 }), (text, limit) => {
        const cut = truncateToTokens(text, limit);
        expect(cut.tokens).toBe(countTokens(cut.text));
        expect(cut.tokens).toBeLessThanOrEqual(limit);
        expect(text.startsWith(cut.text), "a prefix").toBe(true);
        expect(cut.truncated).toBe(cut.text !== text);
        if (!cut.truncated) expect(cut.tokens).toBe(countTokens(text));
      }),
      { numRuns: 300 },
    );
  });
});
