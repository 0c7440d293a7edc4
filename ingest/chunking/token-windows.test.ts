import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countTokens } from "../tokenizer.js";
import { tokenWindows } from "./token-windows.js";

const words = fc.array(fc.stringMatching(/^[a-z]{1,12}$/), { minLength: 1, maxLength: 1500 }).map((ws) => ws.join(" "));

describe("tokenWindows", () => {
  it("covers every word, stays within size, and overlaps consecutive windows", () => {
    fc.assert(
      fc.property(words, fc.integer({ min: 256, max: 1024 }), fc.double({ min: 0.1, max: 0.2, noNaN: true }), (text, size, ratio) => {
        const overlap = Math.floor(size * ratio);
        const windows = tokenWindows(text, size, overlap);
        expect(windows[0]?.charStart).toBe(0);
        expect(windows.at(-1)?.charEnd).toBe(text.length);
        for (let i = 0; i < windows.length; i += 1) {
          const w = windows[i]!;
          expect(w.tokenCount).toBeLessThanOrEqual(size);
          if (i > 0) {
            const previous = windows[i - 1]!;
            expect(w.charStart).toBeLessThan(previous.charEnd); // overlap: no gap, some shared text
            expect(w.charStart).toBeGreaterThan(previous.charStart); // progress
            expect(countTokens(text.slice(w.charStart, previous.charEnd))).toBeLessThanOrEqual(overlap + 2);
          }
        }
      }),
      { numRuns: 40 },
    );
  });

  it("is deterministic", () => {
    const text = "alpha beta gamma ".repeat(700);
    expect(tokenWindows(text, 256, 38)).toEqual(tokenWindows(text, 256, 38));
  });
});
