import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../core/errors.js";
import {
  CONTAINED_DEFAULT_THRESHOLD,
  containedContextPrecision,
  containedContextRecall,
  containedSimilarity,
  normalizeForContainment,
  substringEditDistance,
} from "./contained.js";
import { levenshtein, nonLlmContextRecall, stringSimilarity } from "./ragas.js";

/** The definition, by brute force: the fewest edits that turn the pattern into some substring of the text (the empty one included). */
function naiveSubstringDistance(pattern: string, text: string): number {
  const t = Array.from(text);
  let best = Array.from(pattern).length;
  for (let i = 0; i <= t.length; i++) for (let j = i; j <= t.length; j++) best = Math.min(best, levenshtein(pattern, t.slice(i, j).join("")));
  return best;
}

const DOCK_CHUNK = "# Charging dock\n\nPlace the dock on a level floor. The **dock** needs at least 1.5 m of clear floor in front of the contact plate, so the robot can turn and reverse onto it. Keep the cable out of the robot's path.";
const TRAVEL_CHUNK = "# Travel\n\nHotel stays are reimbursed up to 180 EUR per night in high-cost cities, with a receipt.";

describe("normalisation before matching", () => {
  it("folds compatibility forms, case, accents, markdown emphasis, punctuation and whitespace", () => {
    expect(normalizeForContainment("**Bold** _it_ `code`")).toBe("bold it code");
    expect(normalizeForContainment("ﬁle ＡＢ")).toBe("file ab");
    expect(normalizeForContainment("Café")).toBe(normalizeForContainment("Cafe\u0301"));
    expect(normalizeForContainment("Café")).toBe("cafe");
    expect(normalizeForContainment("  1.5 m,\n\tclear  ")).toBe("1 5 m clear");
    // Final sigma lowercases by context; folded to σ so a word reads the same wherever it ends.
    expect(normalizeForContainment("ΟΔΟΣ")).toBe(normalizeForContainment("ΟΔΟΣΑ").slice(0, 4));
  });
});

describe("substring edit distance (semi-global, Sellers)", () => {
  it("is the fewest edits to any substring of the text, by hand", () => {
    expect(substringEditDistance("abc", "xxabcxx")).toBe(0);
    expect(substringEditDistance("abc", "xxabxx")).toBe(1);
    expect(substringEditDistance("abcde", "xxabxdexx")).toBe(1);
    expect(substringEditDistance("abcde", "xxabxxexx")).toBe(2);
    expect(substringEditDistance("abcd", "axbxcxd")).toBe(3);
    expect(substringEditDistance("", "abc")).toBe(0);
    expect(substringEditDistance("abc", "")).toBe(3);
  });

  it("counts code points, not UTF-16 units", () => {
    expect(substringEditDistance("😀b", "a😀b")).toBe(0);
    expect(substringEditDistance("😀", "😁")).toBe(1);
  });

  it("agrees with the brute-force minimum over every substring (property)", () => {
    const text = fc.string({ unit: fc.constantFrom("a", "b", "c", "😀"), maxLength: 9 });
    fc.assert(
      fc.property(text, text, (pattern, haystack) => {
        expect(substringEditDistance(pattern, haystack)).toBe(naiveSubstringDistance(pattern, haystack));
      }),
    );
  });
});

describe("contained similarity", () => {
  it("finds a sentence quoted from a paragraph-long chunk, where ragas' whole-text similarity cannot", () => {
    const reference = "The dock needs at least 1.5 m of clear floor in front of the contact plate";
    expect(containedSimilarity(reference, DOCK_CHUNK)).toBe(1);
    expect(stringSimilarity(reference, DOCK_CHUNK)).toBeLessThan(0.5);
  });

  it("is 1 − edits / reference length, after normalisation", () => {
    // "clear flor" (10 code points) is one insertion away from "clear floor".
    expect(containedSimilarity("Clear flor", DOCK_CHUNK)).toBe(1 - 1 / 10);
    expect(containedSimilarity("abcde", "xxabxdexx")).toBe(0.8);
    expect(containedSimilarity("abcde", "xxabxxexx")).toBeCloseTo(0.6, 12);
    expect(containedSimilarity("abc", "xyz")).toBe(0);
  });

  it("treats a reference with no letter or digit as contained in any text (the empty string is a substring of all)", () => {
    expect(containedSimilarity("--", "anything")).toBe(1);
  });

  const anyText = fc.string({ unit: "binary", maxLength: 40 });
  const smallText = fc.string({ unit: fc.constantFrom("a", "b", "c", "A", " ", ".", "é", "ς", "Σ"), maxLength: 14 });

  it("lies in [0, 1] (property)", () => {
    fc.assert(
      fc.property(anyText, anyText, (reference, text) => {
        const similarity = containedSimilarity(reference, text);
        expect(similarity).toBeGreaterThanOrEqual(0);
        expect(similarity).toBeLessThanOrEqual(1);
      }),
    );
  });

  it("is 1 for a reference that occurs exactly in the text, whatever surrounds it (property)", () => {
    fc.assert(
      fc.property(anyText, anyText, anyText, (before, reference, after) => {
        expect(containedSimilarity(reference, `${before}${reference}${after}`)).toBe(1);
      }),
    );
  });

  it("never drops when the text grows around it (property)", () => {
    fc.assert(
      fc.property(smallText, smallText, smallText, smallText, (reference, before, text, after) => {
        expect(containedSimilarity(reference, `${before}${text}${after}`)).toBeGreaterThanOrEqual(containedSimilarity(reference, text));
      }),
    );
  });

  it("needs no more edits than the whole-text distance, and is at least ragas' similarity when the text is no longer than the reference (property)", () => {
    fc.assert(
      fc.property(smallText, smallText, (reference, text) => {
        const r = normalizeForContainment(reference);
        const t = normalizeForContainment(text);
        expect(substringEditDistance(r, t)).toBeLessThanOrEqual(levenshtein(r, t));
        if (Array.from(t).length <= Array.from(r).length) expect(containedSimilarity(reference, text)).toBeGreaterThanOrEqual(stringSimilarity(r, t));
      }),
    );
  });

  it("can be below ragas' similarity for a text longer than the reference: edits are counted against the reference alone", () => {
    // 3 insertions turn abcd into axbxcxd: ragas 1 − 3/7; the best substring still needs 3 edits, 1 − 3/4.
    expect(containedSimilarity("abcd", "axbxcxd")).toBe(0.25);
    expect(stringSimilarity("abcd", "axbxcxd")).toBeCloseTo(4 / 7, 12);
  });
});

describe("contained context recall and precision", () => {
  const references = ["The dock needs at least 1.5 m of clear floor", "a 16 A breaker in Europe and the UK"];

  it("scores recall as the share of references contained in some retrieved text, by hand", () => {
    expect(containedContextRecall([TRAVEL_CHUNK, DOCK_CHUNK], references)).toBe(0.5);
    expect(containedContextRecall([TRAVEL_CHUNK, DOCK_CHUNK], references.slice(0, 1))).toBe(1);
    // ragas' non-LLM recall on the same inputs: a paragraph is never similar enough to a sentence as a whole.
    expect(nonLlmContextRecall([TRAVEL_CHUNK, DOCK_CHUNK], references.slice(0, 1))).toBe(0);
  });

  it("scores precision as ragas' average precision of 'contains a reference' verdicts, by hand", () => {
    // Verdicts [no, yes]: (1/2) / (1 + 1e-10).
    expect(containedContextPrecision([TRAVEL_CHUNK, DOCK_CHUNK], references)).toBe(0.5 / (1 + 1e-10));
    const breaker = "Each dock needs its own circuit: a 20 A breaker in North America or a 16 A breaker in Europe and the UK.";
    // Verdicts [no, yes, no, yes]: (1/2 + 2/4) / (2 + 1e-10).
    expect(containedContextPrecision([TRAVEL_CHUNK, DOCK_CHUNK, TRAVEL_CHUNK, breaker], references)).toBe((1 / 2 + 2 / 4) / (2 + 1e-10));
    expect(containedContextRecall([TRAVEL_CHUNK, DOCK_CHUNK, TRAVEL_CHUNK, breaker], references)).toBe(1);
  });

  it(`counts a match at the threshold (${CONTAINED_DEFAULT_THRESHOLD} by default, ≥ in both), and takes another`, () => {
    expect(containedContextRecall(["xxabxdexx"], ["abcde"])).toBe(1);
    expect(containedContextPrecision(["xxabxdexx"], ["abcde"])).toBe(1 / (1 + 1e-10));
    expect(containedContextRecall(["xxabxdexx"], ["abcde"], { threshold: 0.9 })).toBe(0);
    expect(() => containedContextRecall(["a"], ["a"], { threshold: 1.5 })).toThrow(InvalidRequestError);
  });

  it("gives 0 when nothing was retrieved and refuses a question without references", () => {
    expect(containedContextRecall([], references)).toBe(0);
    expect(containedContextPrecision([], references)).toBe(0);
    expect(() => containedContextRecall(["a"], [])).toThrow(InvalidRequestError);
    expect(() => containedContextPrecision(["a"], [])).toThrow(InvalidRequestError);
  });

  it("stays in [0, 1] and never loses recall when more texts are retrieved (property)", () => {
    const text = fc.string({ unit: fc.constantFrom("a", "b", "c", " "), maxLength: 12 });
    fc.assert(
      fc.property(fc.array(text, { maxLength: 5 }), fc.array(text, { maxLength: 3 }), fc.array(text, { minLength: 1, maxLength: 3 }), (retrieved, more, refs) => {
        const recall = containedContextRecall(retrieved, refs);
        const precision = containedContextPrecision(retrieved, refs);
        for (const value of [recall, precision]) {
          expect(value).toBeGreaterThanOrEqual(0);
          expect(value).toBeLessThanOrEqual(1);
        }
        expect(containedContextRecall([...retrieved, ...more], refs)).toBeGreaterThanOrEqual(recall);
      }),
    );
  });
});
