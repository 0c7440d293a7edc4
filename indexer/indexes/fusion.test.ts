import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { candidateDepth, fuse, reciprocalRankFusion } from "./fusion.js";
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

/** A ranking with scores of its own: distinct ids, scores descending (ties allowed), on any scale. */
const scoredArb = fc
  .uniqueArray(fc.record({ id: fc.constantFrom(..."abcdefghijklmnop"), score: fc.integer({ min: -50, max: 50 }) }), { selector: (n) => n.id, maxLength: 16 })
  .map((ns) => [...ns].sort((a, b) => b.score - a.score));
const relative = { method: "relative-score" as const, k: 60, alpha: 0.5, candidates: 100 };

describe("relative score fusion", () => {
  it("scores each id alpha x its dense score and (1 - alpha) x its sparse score, each min-max scaled over its side's candidates", () => {
    const dense = [
      { id: "a", score: 0.9 },
      { id: "b", score: 0.5 },
      { id: "c", score: 0.1 },
    ];
    const sparse = [
      { id: "c", score: 30 },
      { id: "d", score: 20 },
      { id: "e", score: 10 },
    ];
    const fused = fuse(dense, sparse, { ...relative, alpha: 0.25 }, 10);
    const expected = new Map([
      ["a", 0.25],
      ["b", 0.25 * 0.5],
      ["c", 0.75],
      ["d", 0.75 * 0.5],
      ["e", 0],
    ]);
    expect(fused.map((n) => n.id)).toEqual(["c", "d", "a", "b", "e"]);
    for (const n of fused) expect(n.score).toBeCloseTo(expected.get(n.id) as number, 12);
  });

  it("scales a side whose candidates all score alike to 1", () => {
    expect(fuse([{ id: "a", score: 0.3 }], [{ id: "b", score: 7 }, { id: "c", score: 7 }], relative, 10)).toEqual([
      { id: "a", score: 0.5 },
      { id: "b", score: 0.5 },
      { id: "c", score: 0.5 },
    ]);
  });

  it("does not depend on the scale of either side's scores (a cosine and a BM25 score need no common unit)", () => {
    fc.assert(
      fc.property(scoredArb, scoredArb, fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 1, max: 3000 }), fc.integer({ min: -1000, max: 1000 }), (dense, sparse, alpha, scale, shift) => {
        const options = { ...relative, alpha };
        const rescaled = sparse.map((n) => ({ id: n.id, score: n.score * scale + shift }));
        const ids = (ns: readonly Neighbor[]) => ns.map((n) => n.id);
        expect(ids(fuse(dense, rescaled, options, 32))).toEqual(ids(fuse(dense, sparse, options, 32)));
      }),
    );
  });

  it("never ranks an id below one it scores at least as well as on both sides", () => {
    fc.assert(
      // Weights in hundredths: a weight like 5e-324 is lost when added to 1, and the strict order with it.
      fc.property(scoredArb, scoredArb, fc.integer({ min: 0, max: 100 }), (dense, sparse, percent) => {
        const alpha = percent / 100;
        const fused = fuse(dense, sparse, { ...relative, alpha }, 100);
        const at = new Map(fused.map((n, i) => [n.id, i]));
        const side = (ns: readonly Neighbor[]) => new Map(ns.map((n) => [n.id, n.score]));
        const [d, s] = [side(dense), side(sparse)];
        for (const x of at.keys())
          for (const y of at.keys()) {
            // x at least as good as y wherever y appears, and x present wherever y is: x is not worse.
            const better = [d, s].every((m) => !m.has(y) || (m.has(x) && (m.get(x) as number) >= (m.get(y) as number)));
            // ... and strictly better on a side that weighs something, where both appear.
            const strictly = ([[d, alpha], [s, 1 - alpha]] as const).some(([m, weight]) => weight > 0 && m.has(x) && m.has(y) && (m.get(x) as number) > (m.get(y) as number));
            if (better && strictly) expect(at.get(x) as number).toBeLessThan(at.get(y) as number);
          }
      }),
    );
  });

  it("scores within 0 and 1, best first, each id of a weighted side once, at most the limit", () => {
    fc.assert(
      fc.property(scoredArb, scoredArb, fc.double({ min: 0.01, max: 0.99, noNaN: true }), fc.integer({ min: 1, max: 40 }), (dense, sparse, alpha, limit) => {
        const fused = fuse(dense, sparse, { ...relative, alpha }, limit);
        const all = new Set([...dense, ...sparse].map((n) => n.id));
        expect(fused.length).toBe(Math.min(limit, all.size));
        expect(new Set(fused.map((n) => n.id)).size).toBe(fused.length);
        for (const [i, n] of fused.entries()) {
          expect(n.score).toBeGreaterThanOrEqual(0);
          expect(n.score).toBeLessThanOrEqual(1 + 1e-12);
          if (i > 0) expect(n.score).toBeLessThanOrEqual(fused[i - 1]!.score);
        }
      }),
    );
  });

  it("with alpha 1 is the dense ranking, with alpha 0 the sparse one", () => {
    const dense = ranking("a", "b");
    const sparse = ranking("c", "b");
    expect(fuse(dense, sparse, { ...relative, alpha: 1 }, 10).map((n) => n.id)).toEqual(["a", "b"]);
    expect(fuse(dense, sparse, { ...relative, alpha: 0 }, 10).map((n) => n.id)).toEqual(["c", "b"]);
  });

  it("fuses by reciprocal rank when the fusion names no method (versions pinned before there was a choice)", () => {
    fc.assert(
      fc.property(rankingArb, rankingArb, fusionArb, (dense, sparse, options) => {
        expect(fuse(dense, sparse, options, 10)).toEqual(reciprocalRankFusion(dense, sparse, options, 10));
        expect(fuse(dense, sparse, { ...options, method: "rrf" }, 10)).toEqual(reciprocalRankFusion(dense, sparse, options, 10));
      }),
    );
  });
});
