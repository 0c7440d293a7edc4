import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { filterMatcher } from "./exact-scan.js";
import { buildInvertedIndex, invertedTermStats, sparseTopK, versionedTermStats } from "./sparse-scan.js";
import type { IndexFilter, SparseVector, StoredRestricts } from "./vector-index.js";

const stored = (documentIds: string[], tags: string[] = []): StoredRestricts => ({ restricts: { documentIds, tags, contentTypes: [] }, numericRestricts: {} });

interface Row {
  id: string;
  sparse: SparseVector | undefined;
  restricts: StoredRestricts;
}

/** The plain definition: the dot product of every matching row holding a sparse vector, non-zero ones, sorted by score then id, the first k. */
function reference(rows: readonly Row[], query: SparseVector, k: number, filter?: IndexFilter) {
  const admits = filter ? filterMatcher(filter) : () => true;
  const dot = (sparse: SparseVector) => {
    let sum = 0;
    for (let i = 0; i < query.dimensions.length; i++) {
      const at = [...sparse.dimensions].indexOf(query.dimensions[i] as number);
      if (at >= 0) sum += (query.values[i] as number) * (sparse.values[at] as number);
    }
    return sum;
  };
  return rows
    .filter((r) => r.sparse && admits(r.restricts))
    .map((r) => ({ id: r.id, score: dot(r.sparse as SparseVector) }))
    .filter((r) => r.score !== 0)
    .sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0))
    .slice(0, k);
}

// Few terms and small integer weights, so shared terms and exact ties are common.
const sparseArb = fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 7 }), fc.integer({ min: 1, max: 3 })), { selector: ([d]) => d, maxLength: 5 }).map((pairs): SparseVector => ({ dimensions: pairs.map(([d]) => d), values: pairs.map(([, v]) => v) }));
const tokensArb = fc.subarray(["a", "b", "c"]);
const rowsArb = fc.uniqueArray(
  fc.record({ id: fc.string({ minLength: 1, maxLength: 3 }), sparse: fc.option(sparseArb, { nil: undefined }), restricts: fc.tuple(tokensArb, tokensArb).map(([d, t]) => stored(d, t)) }),
  { selector: (r) => r.id, maxLength: 30 },
);
const filterArb: fc.Arbitrary<IndexFilter> = fc.record({ restricts: fc.record({ tags: fc.record({ allow: fc.option(tokensArb, { nil: undefined }), deny: fc.option(tokensArb, { nil: undefined }) }, { requiredKeys: [] }) }) });

describe("sparse search over an inverted index in memory", () => {
  it("returns what the plain definition returns: the k best matching rows by dot product, ties in id order", () => {
    fc.assert(
      fc.property(rowsArb, sparseArb, fc.integer({ min: 0, max: 40 }), fc.option(filterArb, { nil: undefined }), (rows, query, k, filter) => {
        const index = buildInvertedIndex(rows.map((r) => r.sparse));
        const got = sparseTopK({ rows: rows.length, ids: rows.map((r) => r.id), restricts: rows.map((r) => r.restricts) }, index, query, k, filter);
        const want = reference(rows, query, k, filter);
        expect(got.map((n) => n.id)).toEqual(want.map((n) => n.id));
        got.forEach((n, i) => expect(n.score).toBeCloseTo(want[i]!.score, 9));
      }),
    );
  });

  it("answers a run of queries on one index as the definition does, with weights of both signs whose sums cancel to 0", () => {
    const signedArb = fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 5 }), fc.constantFrom(-2, -1, 1, 2)), { selector: ([d]) => d, maxLength: 5 }).map((pairs): SparseVector => ({ dimensions: pairs.map(([d]) => d), values: pairs.map(([, v]) => v) }));
    const signedRowsArb = fc.uniqueArray(fc.record({ id: fc.string({ minLength: 1, maxLength: 3 }), sparse: fc.option(signedArb, { nil: undefined }), restricts: fc.constant(stored([], [])) }), { selector: (r) => r.id, maxLength: 30 });
    fc.assert(
      fc.property(signedRowsArb, fc.array(signedArb, { minLength: 1, maxLength: 4 }), fc.integer({ min: 1, max: 40 }), (rows, queries, k) => {
        const index = buildInvertedIndex(rows.map((r) => r.sparse));
        for (const query of queries) {
          const got = sparseTopK({ rows: rows.length, ids: rows.map((r) => r.id), restricts: rows.map((r) => r.restricts) }, index, query, k);
          const want = reference(rows, query, k, undefined);
          expect(got.map((n) => n.id)).toEqual(want.map((n) => n.id));
        }
      }),
    );
  });

  it("counts the datapoints holding a sparse vector, and per term how many hold it", () => {
    fc.assert(
      fc.property(rowsArb, fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 6 }), (rows, dims) => {
        const stats = invertedTermStats(buildInvertedIndex(rows.map((r) => r.sparse)), dims);
        expect(stats.datapoints).toBe(rows.filter((r) => r.sparse).length);
        expect(stats.frequencies).toEqual(dims.map((d) => rows.filter((r) => r.sparse && [...r.sparse.dimensions].includes(d)).length));
      }),
    );
  });

  it("holds its postings in typed arrays", () => {
    const index = buildInvertedIndex([{ dimensions: [5, 1], values: [0.5, 2] }, undefined, { dimensions: Uint32Array.of(1), values: Float32Array.of(1) }]);
    expect(index.terms).toEqual(Uint32Array.of(1, 5));
    expect(index.offsets).toEqual(Uint32Array.of(0, 2, 3));
    expect(index.postingRows).toEqual(Uint32Array.of(0, 2, 0));
    expect(index.postingWeights).toEqual(Float32Array.of(2, 1, 0.5));
    expect(index.datapoints).toBe(2);
  });
});

describe("versionedTermStats", () => {
  /** A table whose document frequencies are a function of version and term, counting what is read. */
  const table = () => {
    const reads: number[][] = [];
    const df = (version: number, term: number) => (version * 7 + term * 3) % 11;
    const read = async (version: number, terms: readonly number[]) => {
      reads.push([...terms]);
      return { datapoints: 100 + version, frequencies: terms.map((term) => df(version, term)) };
    };
    return { reads, df, read };
  };

  it("answers every call as a read of the table at its version would, for any sequence of versions and terms", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.integer({ min: 0, max: 3 }), fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 6 })), { minLength: 1, maxLength: 20 }), async (calls) => {
        const { df, read } = table();
        let version = 0;
        const stats = versionedTermStats(async () => version, read);
        for (const [at, terms] of calls) {
          version = at;
          expect(await stats(terms)).toEqual({ datapoints: 100 + at, frequencies: terms.map((term) => df(at, term)) });
        }
      }),
    );
  });

  it("reads a term once per table version, and only the terms not read yet", async () => {
    const { reads, read } = table();
    let version = 1;
    const stats = versionedTermStats(async () => version, read);
    await stats([4, 2, 4]);
    await stats([2, 4]);
    await stats([2, 5]);
    expect(reads).toEqual([[4, 2], [5]]);
    version = 2;
    await stats([2]);
    expect(reads).toEqual([[4, 2], [5], [2]]);
  });
});
