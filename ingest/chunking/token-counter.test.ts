import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countTokens } from "../tokenizer.js";
import { createTokenCounter, tokensIn, tokensWithLeadLine } from "./token-counter.js";

// Characters that decide where the tokenizer's pieces end: letters of each case, marks, digits, every kind of space and line end, punctuation, '/', apostrophes (contractions), and characters outside the BMP.
const PARTS = ["a", "b", "The", "word", "DONT", "don't", "we'll", "X", "é", "e\u0301", "ß", "日本", "🙂", "0", "12", "12345", " ", "  ", "\t", "\n", "\n\n", "\r\n", " \n ", ".", ",", "?!", "/", "//", "'", "'s", "’", "-", "(", ")", "#", "`", "<|endoftext|>", "---"];
// Random letter and digit runs make pieces of several tokens, so a piece counted twice or skipped changes the total.
const runOf = (chars: string, maxLength: number) => fc.array(fc.constantFrom(...chars), { minLength: 1, maxLength }).map((run) => run.join(""));
const runArb = fc.oneof(runOf("qzxjkvwyAEIOUaeiou'’/é🙂", 14), runOf("0123456789", 20), runOf(" \n", 6));
const textArb = fc.array(fc.oneof(fc.constantFrom(...PARTS), runArb), { minLength: 0, maxLength: 300 }).map((parts) => parts.join(""));

describe("token counter", () => {
  it("counts every span of a text exactly as counting the span's own text does", () => {
    fc.assert(
      fc.property(textArb, fc.array(fc.tuple(fc.nat(), fc.nat()), { minLength: 1, maxLength: 20 }), (text, spans) => {
        const counter = createTokenCounter(text);
        for (const [x, y] of spans) {
          const a = x % (text.length + 1);
          const b = y % (text.length + 1);
          const [start, end] = a <= b ? [a, b] : [b, a];
          expect(counter.count(start, end)).toBe(countTokens(text.slice(start, end)));
        }
      }),
      { numRuns: 300 },
    );
  });

  it("counts the whole text and long spans of real prose exactly", () => {
    const prose = "It's the pump's 3rd service.  Check the valve/seal (see §4.2) — don't over-tighten!\n\n   - item one\n   - item two\r\n\n".repeat(40);
    const counter = createTokenCounter(prose);
    expect(counter.count(0, prose.length)).toBe(countTokens(prose));
    for (let start = 0; start < 300; start += 7) for (let end = prose.length - 300; end <= prose.length; end += 11) expect(counter.count(start, end)).toBe(countTokens(prose.slice(start, end)));
  });

  it("counts spans that start inside a number, where the span's pieces and the text's differ", () => {
    fc.assert(
      fc.property(runOf("0123456789", 30), fc.nat(), fc.nat(40), (digits, cut, trim) => {
        const text = `abc ${digits} ${"hello world ".repeat(12)}`;
        const counter = createTokenCounter(text);
        const start = 4 + (cut % digits.length);
        expect(counter.count(start, text.length - trim)).toBe(countTokens(text.slice(start, text.length - trim)));
      }),
    );
  });

  it("counts an empty span as zero tokens", () => {
    expect(createTokenCounter("some text").count(3, 3)).toBe(0);
  });

  it("counts a chunk's heading line and body as the whole chunk text counts", () => {
    fc.assert(
      fc.property(fc.tuple(textArb, fc.constantFrom("", ".", "?", "…", ")")).map(([text, end]) => text + end), fc.tuple(fc.constantFrom("", "/", "//"), textArb).map(([lead, text]) => lead + text), (line, body) => {
        const lineTokens = countTokens(`${line}\n\n`);
        expect(tokensWithLeadLine(line, lineTokens, body, countTokens(body))).toBe(countTokens(`${line}\n\n${body}`));
      }),
      { numRuns: 500 },
    );
  });

  it("answers spans of several texts in turn, each from its own cut", () => {
    const a = "alpha beta gamma ".repeat(20);
    const b = "12345 delta/epsilon ".repeat(20);
    for (const [text, start, end] of [[a, 3, 200], [b, 5, 250], [a, 0, a.length], [b, 1, 99]] as const) expect(tokensIn(text, start, end)).toBe(countTokens(text.slice(start, end)));
  });
});
