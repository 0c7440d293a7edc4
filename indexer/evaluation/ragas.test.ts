import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../core/errors.js";
import {
  idContextPrecision,
  idContextRecall,
  levenshtein,
  nonLlmContextPrecision,
  nonLlmContextRecall,
  ragasAveragePrecision,
  rankedIdContextPrecision,
  stringSimilarity,
} from "./ragas.js";

/** Textbook edit distance over code points, the whole table: the reference the one-row version must agree with. */
function naiveLevenshtein(a: string, b: string): number {
  const s = Array.from(a);
  const t = Array.from(b);
  const d = Array.from({ length: s.length + 1 }, (_, i) => Array.from({ length: t.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= s.length; i++)
    for (let j = 1; j <= t.length; j++) {
      const row = d[i] as number[];
      const above = d[i - 1] as number[];
      row[j] = Math.min((above[j - 1] as number) + (s[i - 1] === t[j - 1] ? 0 : 1), (above[j] as number) + 1, (row[j - 1] as number) + 1);
    }
  return (d[s.length] as number[])[t.length] as number;
}

describe("string similarity (ragas NonLLMStringSimilarity, Levenshtein)", () => {
  it("gives rapidfuzz's documented Levenshtein example: lewenstein → levenshtein is 2 edits", () => {
    expect(levenshtein("lewenstein", "levenshtein")).toBe(2);
    // normalized_distance = 2 / 11, so the similarity ragas thresholds is 9 / 11.
    expect(stringSimilarity("lewenstein", "levenshtein")).toBe(1 - 2 / 11);
  });

  it("counts code points, as Python does, not UTF-16 units", () => {
    expect(levenshtein("😀", "😁")).toBe(1);
    expect(stringSimilarity("a😀", "a")).toBe(0.5);
  });

  it("treats two empty strings as identical", () => {
    expect(stringSimilarity("", "")).toBe(1);
  });

  it("agrees with the full-table edit distance and stays symmetric in [0, 1]", () => {
    const text = fc.string({ unit: fc.constantFrom("a", "b", "c", "😀", "é"), maxLength: 12 });
    fc.assert(
      fc.property(text, text, (a, b) => {
        expect(levenshtein(a, b)).toBe(naiveLevenshtein(a, b));
        expect(stringSimilarity(a, b)).toBe(stringSimilarity(b, a));
        expect(stringSimilarity(a, b)).toBeGreaterThanOrEqual(0);
        expect(stringSimilarity(a, b)).toBeLessThanOrEqual(1);
      }),
    );
  });
});

describe("ragas average precision", () => {
  // ragas docs (concepts/metrics/available_metrics/context_precision.md): one relevant chunk scores 0.9999999999,
  // and "even if an irrelevant chunk is present at the second position in the array, context precision remains the same".
  it("scores a relevant chunk first 0.9999999999, with or without an irrelevant one after it", () => {
    expect(ragasAveragePrecision([true])).toBe(1 / (1 + 1e-10));
    expect(ragasAveragePrecision([true, false])).toBe(ragasAveragePrecision([true]));
    expect(ragasAveragePrecision([true]).toFixed(10)).toBe("0.9999999999");
  });

  it("is the mean of precision@k over the relevant positions (hand-computed)", () => {
    // Relevant at ranks 2 and 3: (1/2 + 2/3) / 2.
    expect(ragasAveragePrecision([false, true, true])).toBeCloseTo((1 / 2 + 2 / 3) / 2, 9);
    expect(ragasAveragePrecision([false, true])).toBeCloseTo(0.49999999995, 15);
    expect(ragasAveragePrecision([false, false])).toBe(0);
    expect(ragasAveragePrecision([])).toBe(0);
  });
});

describe("NonLLMContextPrecisionWithReference", () => {
  it("scores the ragas docs example (context_precision.md, 'Context Precision with reference contexts') 0.9999999999", () => {
    // Hand-computed: the retrieved text is 28 edits from the second reference (62 code points): 1 − 28/62 ≈ 0.548 ≥ 0.5, relevant at rank 1.
    const retrieved = ["The Eiffel Tower is located in Paris."];
    const references = ["Paris is the capital of France.", "The Eiffel Tower is one of the most famous landmarks in Paris."];
    expect(levenshtein(retrieved[0] as string, references[1] as string)).toBe(28);
    expect(nonLlmContextPrecision(retrieved, references)).toBe(1 / (1 + 1e-10));
  });

  it("counts a similarity of exactly the threshold as a match (ragas uses ≥ here)", () => {
    expect(stringSimilarity("ab", "ac")).toBe(0.5);
    expect(nonLlmContextPrecision(["ab"], ["ac"])).toBe(1 / (1 + 1e-10));
    expect(nonLlmContextPrecision(["ab"], ["ac"], { threshold: 0.6 })).toBe(0);
  });

  it("rewards relevant texts ranked first (hand-computed)", () => {
    const references = ["alpha beta gamma"];
    expect(nonLlmContextPrecision(["zzzz zzzz zzzz zzz", "alpha beta gamma"], references)).toBeCloseTo(0.5, 9);
    expect(nonLlmContextPrecision(["alpha beta gamma", "zzzz zzzz zzzz zzz"], references)).toBeCloseTo(1, 9);
  });

  it("scores 0 when nothing was retrieved and refuses a question without reference texts", () => {
    expect(nonLlmContextPrecision([], ["x"])).toBe(0);
    expect(() => nonLlmContextPrecision(["x"], [])).toThrow(InvalidRequestError);
  });
});

describe("NonLLMContextRecall", () => {
  it("scores the ragas docs example (context_recall.md, 'Non LLM Based Context Recall') 0.5", () => {
    // Hand-computed: the first reference is retrieved verbatim (similarity 1); the second is 48 edits from it (similarity ≈ 0.23).
    const retrieved = ["Paris is the capital of France."];
    const references = ["Paris is the capital of France.", "The Eiffel Tower is one of the most famous landmarks in Paris."];
    expect(nonLlmContextRecall(retrieved, references)).toBe(0.5);
  });

  it("does not count a similarity of exactly the threshold (ragas uses > here)", () => {
    expect(nonLlmContextRecall(["ab"], ["ac"])).toBe(0);
    expect(nonLlmContextRecall(["ab"], ["ac"], { threshold: 0.4 })).toBe(1);
  });

  it("scores 0 when nothing was retrieved and refuses a question without reference texts", () => {
    expect(nonLlmContextRecall([], ["x", "y"])).toBe(0);
    expect(() => nonLlmContextRecall(["x"], [])).toThrow(/needs at least one reference/);
  });
});

describe("IDBasedContextPrecision / IDBasedContextRecall", () => {
  // ragas source docstrings (src/ragas/metrics/collections/_context_precision.py and _context_recall.py):
  // retrieved doc1, doc2, doc3 against reference doc1, doc2, doc4 → 0.667 for both.
  it("reproduces ragas' docstring examples", () => {
    expect(idContextPrecision(["doc1", "doc2", "doc3"], ["doc1", "doc2", "doc4"])).toBeCloseTo(2 / 3, 15);
    expect(idContextRecall(["doc1", "doc2", "doc3"], ["doc1", "doc2", "doc4"])).toBeCloseTo(2 / 3, 15);
  });

  it("compares sets: a repeated id counts once, order does not matter", () => {
    expect(idContextPrecision(["doc1", "doc1", "doc9"], ["doc1"])).toBe(0.5);
    expect(idContextRecall(["doc2", "doc1", "doc1"], ["doc1", "doc2", "doc2"])).toBe(1);
  });

  it("scores 0 when nothing was retrieved and refuses a question without reference ids", () => {
    expect(idContextPrecision([], ["doc1"])).toBe(0);
    expect(idContextRecall([], ["doc1"])).toBe(0);
    expect(() => idContextRecall(["doc1"], [])).toThrow(InvalidRequestError);
  });

  it("offers the rank-aware form separately (not a ragas metric)", () => {
    expect(rankedIdContextPrecision(["x", "doc1"], ["doc1"])).toBeCloseTo(0.5, 9);
    expect(idContextPrecision(["x", "doc1"], ["doc1"])).toBe(0.5);
    expect(rankedIdContextPrecision(["doc1", "x"], ["doc1"])).toBeCloseTo(1, 9);
  });

  it("stays in [0, 1]", () => {
    const ids = fc.array(fc.constantFrom("a", "b", "c", "d"), { maxLength: 8 });
    fc.assert(
      fc.property(ids, ids.filter((r) => r.length > 0), (retrieved, reference) => {
        for (const v of [idContextPrecision(retrieved, reference), idContextRecall(retrieved, reference), rankedIdContextPrecision(retrieved, reference)]) {
          expect(v).toBeGreaterThanOrEqual(0);
          expect(v).toBeLessThanOrEqual(1);
        }
      }),
    );
  });
});
