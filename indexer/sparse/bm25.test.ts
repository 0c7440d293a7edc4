import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyze, countTerms, termId } from "./analyze.js";
import { documentVector, idf, queryVector, sparseDot, type Bm25Params } from "./bm25.js";

const VOCABULARY = ["dock", "battery", "pack", "robot", "charger", "floor", "breaker", "map", "zone", "wheel"];
const docArb = fc.array(fc.constantFrom(...VOCABULARY), { minLength: 0, maxLength: 25 }).map((words) => words.join(" "));
const paramsArb = fc.record({ k1: fc.double({ min: 0.1, max: 3, noNaN: true }), b: fc.double({ min: 0, max: 1, noNaN: true }), avgdl: fc.double({ min: 1, max: 50, noNaN: true }) });

/** BM25 of a query against one document of a corpus, straight from the textbook formula over word lists. */
function directBm25(query: string[], doc: string[], corpus: string[][], { k1, b, avgdl }: Bm25Params): number {
  let score = 0;
  for (const term of query) {
    const df = corpus.filter((d) => d.includes(term)).length;
    const tf = doc.filter((w) => w === term).length;
    // An absent term adds nothing; computing it would divide 0 by 0 for an empty document when b = 1.
    if (df === 0 || tf === 0) continue;
    const weight = Math.log(1 + (corpus.length - df + 0.5) / (df + 0.5));
    score += (weight * tf * (k1 + 1)) / (tf + k1 * (1 - b + (b * doc.length) / avgdl));
  }
  return score;
}

/** N and df over a corpus of analysed texts, as an index would report them for these term ids. */
function statsOf(corpus: string[], ids: Uint32Array) {
  const held = corpus.map((text) => new Set(countTerms(text).ids));
  return { datapoints: corpus.length, frequencies: [...ids].map((id) => held.filter((set) => set.has(id)).length) };
}

describe("BM25 as two sparse vectors", () => {
  it("weighs a document's terms with saturated, length-normalised term frequency", () => {
    const vector = documentVector(countTerms("dock dock battery"), { k1: 1.2, b: 0.75, avgdl: 6 });
    const weight = (term: string) => vector.values[[...vector.dimensions].indexOf(termId(term))] as number;
    const norm = 1.2 * (1 - 0.75 + (0.75 * 3) / 6);
    expect(weight("dock")).toBeCloseTo((2 * 2.2) / (2 + norm), 6);
    expect(weight("battery")).toBeCloseTo(2.2 / (1 + norm), 6);
  });

  it("weighs a query's terms by IDF times their count in the query, and leaves out terms no datapoint holds", () => {
    const terms = countTerms("dock dock battery unknown");
    const stats = { datapoints: 10, frequencies: [...terms.ids].map((id) => (id === termId("dock") ? 2 : id === termId("battery") ? 5 : 0)) };
    const query = queryVector(terms, stats);
    expect(query.dimensions).toHaveLength(2);
    expect(sparseDot(query, { dimensions: [termId("dock")], values: [1] })).toBeCloseTo(2 * Math.log(1 + 8.5 / 2.5), 12);
    expect(sparseDot(query, { dimensions: [termId("battery")], values: [1] })).toBeCloseTo(Math.log(1 + 5.5 / 5.5), 12);
    expect(idf(10, 10)).toBeGreaterThan(0);
  });

  it("gives as dot product the BM25 score a direct computation gives, over any small corpus", () => {
    fc.assert(
      fc.property(fc.array(docArb, { minLength: 1, maxLength: 12 }), docArb, paramsArb, (corpus, query, params) => {
        const terms = countTerms(query);
        const q = queryVector(terms, statsOf(corpus, terms.ids));
        for (const text of corpus) {
          const expected = directBm25(analyze(query), analyze(text), corpus.map(analyze), params);
          // Document weights are float32, as an index stores them.
          expect(sparseDot(q, documentVector(countTerms(text), params))).toBeCloseTo(expected, 4);
          expect(Math.abs(sparseDot(q, documentVector(countTerms(text), params)) - expected)).toBeLessThanOrEqual(1e-6 * Math.max(1, expected));
        }
      }),
    );
  });

  it("scores an empty document 0, not NaN, even with full length normalisation (b = 1)", () => {
    const terms = countTerms("wheel");
    const q = queryVector(terms, statsOf(["", "wheel"], terms.ids));
    const score = sparseDot(q, documentVector(countTerms(""), { k1: 0.1, b: 1, avgdl: 1 }));
    expect(score).toBe(0);
  });

  it("never scores a document lower for one more occurrence of a query term", () => {
    fc.assert(
      fc.property(docArb, fc.constantFrom(...VOCABULARY), paramsArb, fc.integer({ min: 1, max: 20 }), (text, term, params, df) => {
        const terms = countTerms(term);
        const q = queryVector(terms, { datapoints: 50, frequencies: [df] });
        const before = sparseDot(q, documentVector(countTerms(text), params));
        const after = sparseDot(q, documentVector(countTerms(`${text} ${term}`), params));
        expect(after).toBeGreaterThanOrEqual(before * (1 - 1e-6));
      }),
    );
  });

  it("weighs a term higher the more often it occurs in a document of a given length", () => {
    fc.assert(
      fc.property(paramsArb, fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 30 }), (params, tf, others) => {
        const weight = (n: number) => documentVector({ ids: Uint32Array.of(1, 2), counts: Uint32Array.of(n, others + tf + 1 - n), length: others + tf + 1 }, params).values[0] as number;
        expect(weight(tf + 1)).toBeGreaterThan(weight(tf));
      }),
    );
  });
});
