import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildSnapshot, filterMatcher, scanTopK, type SnapshotRow } from "./exact-scan.js";
import type { IndexFilter, StoredRestricts } from "./vector-index.js";

const DIMS = 6;
const TOKENS = ["a", "b", "c"];

const stored = (documentIds: string[], tags: string[] = [], contentTypes: string[] = [], date?: number): StoredRestricts => ({
  restricts: { documentIds, tags, contentTypes },
  numericRestricts: date === undefined ? {} : { date },
});

const row = (id: string, vector: number[], restricts = stored([id])): SnapshotRow => ({ id, vector, restricts });

/** The plain definition: cosine of every matching row, sorted by score then id, the first k. */
function reference(rows: readonly SnapshotRow[], query: number[], k: number, filter?: IndexFilter) {
  const dot = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from({ length: DIMS }, (_, d) => (a[d] ?? 0) * (b[d] ?? 0)).reduce((x, y) => x + y, 0);
  const admits = filter ? filterMatcher(filter) : () => true;
  return rows
    .filter((r) => admits(r.restricts))
    .map((r) => {
      const norm = Math.sqrt(dot(r.vector, r.vector)) * Math.sqrt(dot(query, query));
      return { id: r.id, score: norm === 0 ? Number.NaN : dot(r.vector, query) / norm };
    })
    .filter((r) => !Number.isNaN(r.score))
    .sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
    .slice(0, k);
}

// Small integers make exact ties common, so the tie order is exercised too.
const vectorArb = fc.array(fc.integer({ min: -2, max: 2 }), { minLength: DIMS, maxLength: DIMS });
const tokensArb = fc.subarray(TOKENS);
const storedArb = fc.record({ documentIds: tokensArb, tags: tokensArb, contentTypes: tokensArb, date: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }) }).map((s) => stored(s.documentIds, s.tags, s.contentTypes, s.date));
const rowsArb = fc.uniqueArray(fc.record({ id: fc.string({ minLength: 1, maxLength: 3 }), vector: vectorArb, restricts: storedArb }), { selector: (r) => r.id, maxLength: 40 });
const tokenFilterArb = fc.record({ allow: fc.option(tokensArb, { nil: undefined }), deny: fc.option(tokensArb, { nil: undefined }) }, { requiredKeys: [] });
const filterArb: fc.Arbitrary<IndexFilter> = fc.record(
  {
    restricts: fc.record({ documentIds: tokenFilterArb, tags: tokenFilterArb, contentTypes: tokenFilterArb }, { requiredKeys: [] }),
    numeric: fc.array(fc.record({ namespace: fc.constant("date" as const), op: fc.constantFrom("LESS", "LESS_EQUAL", "EQUAL", "GREATER_EQUAL", "GREATER", "NOT_EQUAL" as const), value: fc.integer({ min: 0, max: 3 }) }), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

describe("exact in-memory scan", () => {
  it("returns what the plain definition returns: the k best matching rows by cosine, ties in id order", () => {
    fc.assert(
      fc.property(rowsArb, vectorArb, fc.integer({ min: 0, max: 50 }), fc.option(filterArb, { nil: undefined }), (rows, query, k, filter) => {
        const got = scanTopK(buildSnapshot(DIMS, rows), query, k, filter);
        const want = reference(rows, query, k, filter);
        expect(got.map((n) => n.id)).toEqual(want.map((n) => n.id));
        got.forEach((n, i) => expect(n.score).toBeCloseTo(want[i]?.score as number, 6));
      }),
      { numRuns: 500 },
    );
  });

  it("scores cosine similarity whatever the vectors' lengths, and never returns a zero vector (it has no cosine)", () => {
    const snapshot = buildSnapshot(2, [row("long", [10, 0]), row("diagonal", [1, 1]), row("zero", [0, 0])]);
    expect(scanTopK(snapshot, [3, 0], 3)).toEqual([
      { id: "long", score: 1 },
      { id: "diagonal", score: expect.closeTo(Math.SQRT1_2, 12) as number },
    ]);
    expect(scanTopK(snapshot, [0, 0], 1)).toEqual([]);
  });

  it("answers an empty snapshot, and k = 0, with nothing", () => {
    expect(scanTopK(buildSnapshot(2, []), [1, 0], 5)).toEqual([]);
    expect(scanTopK(buildSnapshot(2, [row("a", [1, 0])]), [1, 0], 0)).toEqual([]);
  });

  it("matches filters as the port defines them: allow any, deny none, numeric comparisons failing on a missing value, all ANDed", () => {
    const matches = (filter: IndexFilter, s: StoredRestricts) => filterMatcher(filter)(s);
    expect(matches({ restricts: { tags: { allow: ["x", "y"] } } }, stored(["d"], ["y"]))).toBe(true);
    expect(matches({ restricts: { tags: { allow: ["x"] } } }, stored(["d"], []))).toBe(false);
    expect(matches({ restricts: { tags: { deny: ["x"] } } }, stored(["d"], ["x", "z"]))).toBe(false);
    expect(matches({ restricts: { tags: { allow: [], deny: [] } } }, stored(["d"]))).toBe(true);
    expect(matches({ restricts: { tags: { allow: ["t"] }, documentIds: { allow: ["e"] } } }, stored(["d"], ["t"]))).toBe(false);
    expect(matches({ numeric: [{ namespace: "date", op: "NOT_EQUAL", value: 1 }] }, stored(["d"]))).toBe(false);
    expect(matches({ numeric: [{ namespace: "date", op: "NOT_EQUAL", value: 1 }] }, stored(["d"], [], [], 2))).toBe(true);
    expect(matches({ numeric: [{ namespace: "date", op: "GREATER_EQUAL", value: 2 }, { namespace: "date", op: "LESS", value: 3 }] }, stored(["d"], [], [], 2))).toBe(true);
  });
});
