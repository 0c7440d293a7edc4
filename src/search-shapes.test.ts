import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { atLeast, bestPerDocument, candidatesFor } from "./search-shapes.js";

interface Hit {
  chunkId: string;
  documentId: string;
  score: number;
}

/** Hits as an index returns them: distinct chunks, best first, drawn from a few documents so that they repeat. */
const ranking = fc
  .array(fc.record({ documentId: fc.constantFrom("a", "b", "c", "d", "e", "f"), score: fc.double({ min: -1, max: 1, noNaN: true }) }), { maxLength: 40 })
  .map((hits) => hits.sort((x, y) => y.score - x.score).map((hit, i): Hit => ({ ...hit, chunkId: `c${i}` })));

const isSubsequence = <T>(sub: readonly T[], of: readonly T[]) => {
  let at = 0;
  for (const item of of) if (item === sub[at]) at += 1;
  return at === sub.length;
};

describe("grouping hits by document", () => {
  it("keeps each document's best chunk once, in score order, as a subsequence of the ranking, up to k documents", () => {
    fc.assert(
      fc.property(ranking, fc.integer({ min: 1, max: 10 }), (hits, k) => {
        const grouped = bestPerDocument(hits, k);
        const documents = grouped.map((h) => h.documentId);
        expect(new Set(documents).size).toBe(documents.length);
        expect(isSubsequence(grouped, hits)).toBe(true);
        for (let i = 1; i < grouped.length; i += 1) expect((grouped[i] as Hit).score).toBeLessThanOrEqual((grouped[i - 1] as Hit).score);
        expect(grouped.length).toBe(Math.min(k, new Set(hits.map((h) => h.documentId)).size));
        // Each is its document's first (best) hit, and no document ranked above the last one kept was skipped.
        for (const hit of grouped) expect(hits.find((h) => h.documentId === hit.documentId)).toBe(hit);
        const last = grouped.at(-1);
        if (last) expect(new Set(hits.slice(0, hits.indexOf(last) + 1).map((h) => h.documentId)).size).toBe(grouped.length);
      }),
    );
  });
});

describe("minScore", () => {
  it("drops exactly the hits scored below it and keeps the rest in order", () => {
    fc.assert(
      fc.property(ranking, fc.double({ min: -1.5, max: 1.5, noNaN: true }), (hits, minScore) => {
        expect(atLeast(hits, minScore)).toEqual(hits.filter((h) => h.score >= minScore));
      }),
    );
  });

  it("keeps every hit when not given", () => {
    const hits = [{ score: -0.5 }, { score: -0.9 }];
    expect(atLeast(hits, undefined)).toBe(hits);
  });
});

describe("candidates asked of the index", () => {
  it("asks for k chunks, or for several per wanted document when grouping, never above index.maxTopK", () => {
    expect(candidatesFor({ k: 5, maxTopK: 100 })).toBe(5);
    expect(candidatesFor({ k: 5, group: "chunk", maxTopK: 100 })).toBe(5);
    expect(candidatesFor({ k: 5, group: "document", maxTopK: 100 })).toBe(25);
    expect(candidatesFor({ k: 30, group: "document", maxTopK: 100 })).toBe(100);
    expect(candidatesFor({ k: 100, group: "document", maxTopK: 100 })).toBe(100);
  });
});
