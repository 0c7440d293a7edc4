import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { candidateDepth, reciprocalRankFusion } from "./fusion.js";
import type { Neighbor } from "./vector-index.js";

const ranking = (...ids: string[]): Neighbor[] => ids.map((id, i) => ({ id, score: 1 - i / 100 }));
const fusion = { k: 60, alpha: 0.5, candidates: 100 };

/** A ranking: distinct ids from a small alphabet, in any order. */
const rankingArb = fc.uniqueArray(fc.constantFrom(..."abcdefghijklmnop"), { maxLength: 16 }).map((ids) => ranking(...ids));
const fusionArb = fc.record({ k: fc.integer({ min: 1, max: 100 }), alpha: fc.double({ min: 0, max: 1, noNaN: true }), candidates: fc.constant(100) });

describe("reciprocal rank fusion", () => {
  it("scores each id alpha / (k + dense rank) + (1 - alpha) / (k + sparse rank), a missing side adding nothing", () => {
    const fused = reciprocalRankFusion(ranking("a", "b", "c"), ranking("c", "d"), { k: 10, alpha: 0.25, candidates: 100 }, 10);
    const expected = new Map([
      ["a", 0.25 / 11],
      ["b", 0.25 / 12],
      ["c", 0.25 / 13 + 0.75 / 11],
      ["d", 0.75 / 12],
    ]);
    expect(fused.map((n) => n.id)).toEqual(["c", "d", "a", "b"]);
    for (const n of fused) expect(n.score).toBeCloseTo(expected.get(n.id) as number, 12);
  });

  it("returns at most the limit, best first", () => {
    expect(reciprocalRankFusion(ranking("a", "b", "c"), ranking("d", "e", "f"), fusion, 2).map((n) => n.id)).toEqual(["a", "d"]);
    expect(reciprocalRankFusion([], [], fusion, 5)).toEqual([]);
  });

  it("with alpha 1 is the dense ranking, with alpha 0 the sparse one (as Vertex's rrf.alpha)", () => {
    expect(reciprocalRankFusion(ranking("a", "b"), ranking("c", "b"), { ...fusion, alpha: 1 }, 10).map((n) => n.id)).toEqual(["a", "b"]);
    expect(reciprocalRankFusion(ranking("a", "b"), ranking("c", "b"), { ...fusion, alpha: 0 }, 10).map((n) => n.id)).toEqual(["c", "b"]);
  });

  it("ranks an id first in both rankings first", () => {
    fc.assert(
      fc.property(rankingArb, rankingArb, fusionArb, fc.integer({ min: 1, max: 20 }), (dense, sparse, options, limit) => {
        const top = "z";
        const fused = reciprocalRankFusion([{ id: top, score: 2 }, ...dense], [{ id: top, score: 2 }, ...sparse], options, limit);
        expect(fused[0]?.id).toBe(top);
      }),
    );
  });

  it("breaks ties by id, so equal scores come out in one order whatever the order of the inputs", () => {
    // b is first on one side and a on the other: equal fused scores at equal weights.
    expect(reciprocalRankFusion(ranking("b", "x"), ranking("a", "y"), fusion, 4).map((n) => n.id)).toEqual(["a", "b", "x", "y"]);
    fc.assert(
      fc.property(rankingArb, rankingArb, fc.integer({ min: 1, max: 32 }), (dense, sparse, limit) => {
        // At equal weights the two sides are interchangeable: swapping them changes nothing.
        expect(reciprocalRankFusion(dense, sparse, fusion, limit)).toEqual(reciprocalRankFusion(sparse, dense, fusion, limit));
      }),
    );
  });

  it("gives every id of either ranking a score that never rises down the list", () => {
    fc.assert(
      fc.property(rankingArb, rankingArb, fusionArb, (dense, sparse, options) => {
        const fused = reciprocalRankFusion(dense, sparse, { ...options, alpha: Math.min(0.99, Math.max(0.01, options.alpha)) }, 100);
        expect(new Set(fused.map((n) => n.id))).toEqual(new Set([...dense, ...sparse].map((n) => n.id)));
        for (let i = 1; i < fused.length; i++) expect(fused[i]!.score).toBeLessThanOrEqual(fused[i - 1]!.score);
      }),
    );
  });

  it("asks each side for more candidates than the k it returns", () => {
    expect(candidateDepth(fusion, 10)).toBe(100);
    expect(candidateDepth(fusion, 80)).toBe(160);
    expect(candidateDepth({ ...fusion, candidates: 5 }, 1)).toBe(5);
  });
});
