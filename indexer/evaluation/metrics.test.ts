import { readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../core/errors.js";
import { compareBytes, evaluateQuery, evaluateRun, trecMeasures, type EvaluationOptions, type ScoredDoc } from "./metrics.js";
import { parseQrels, parseRun } from "./trec.js";

const FIXTURES = resolve(import.meta.dirname, "../../test/fixtures/trec_eval");
const read = (name: string) => readFileSync(join(FIXTURES, name), "utf8");

/**
 * How each expected output was made (test/fixtures/trec_eval/README.md). The
 * two trec_eval 10.0 runs without -c on a run missing a judged query printed
 * the queries before it and then exited 4; `refuses` names that query.
 */
const CASES: Record<string, { qrels: string; run: string; options: EvaluationOptions; refuses?: string }> = {
  "test.sel.q": { qrels: "qrels.test", run: "results.test", options: {} },
  "test.brief.q": { qrels: "qrels.test", run: "results.test", options: {} },
  "test.all_trec": { qrels: "qrels.test", run: "results.test", options: {} },
  "trunc.sel.qc": { qrels: "qrels.test", run: "results.trunc", options: { completeQueries: true } },
  "trunc.all_trec.c": { qrels: "qrels.test", run: "results.trunc", options: { completeQueries: true } },
  "trunc.sel.q": { qrels: "qrels.test", run: "results.trunc", options: {}, refuses: "302" },
  "trunc.sel.q.v9.0.8": { qrels: "qrels.test", run: "results.trunc", options: { skipMissingQueries: true } },
  "rl.sel.q": { qrels: "qrels.rel_level", run: "results.test", options: {} },
  "rl.all_trec": { qrels: "qrels.rel_level", run: "results.test", options: {} },
  "rl.sel.q.l2": { qrels: "qrels.rel_level", run: "results.test", options: { relevanceLevel: 2 } },
  "302.sel.q": { qrels: "qrels-302.test", run: "results-302.test", options: {} },
  "302vsfull.sel.q": { qrels: "qrels-302.test", run: "results.test", options: {} },
  "msm.sel.q": { qrels: "qrels.msmarco-rag", run: "results.msmarco-rag.judged", options: {} },
  "msm.all_trec": { qrels: "qrels.msmarco-rag", run: "results.msmarco-rag.judged", options: {} },
  "msm.sel.q.l2": { qrels: "qrels.msmarco-rag", run: "results.msmarco-rag.judged", options: { relevanceLevel: 2 } },
  "edge.sel.qc": { qrels: "qrels.edge", run: "run.edge", options: { completeQueries: true } },
  "edge.sel.q.l2c": { qrels: "qrels.edge", run: "run.edge", options: { completeQueries: true, relevanceLevel: 2 } },
  "edge.sel.qcM3": { qrels: "qrels.edge", run: "run.edge", options: { completeQueries: true, maxDocsPerQuery: 3 } },
  "edge.sel.qcJ": { qrels: "qrels.edge", run: "run.edge", options: { completeQueries: true, judgedOnly: true } },
  "edge.sel.q": { qrels: "qrels.edge", run: "run.edge", options: {}, refuses: "q3" },
  "edge.sel.q.v9.0.8": { qrels: "qrels.edge", run: "run.edge", options: { skipMissingQueries: true } },
  "edgenoq3.sel.q": { qrels: "qrels.edge.noq3", run: "run.edge", options: {} },
  "edgenoq3.sel.q.l2": { qrels: "qrels.edge.noq3", run: "run.edge", options: { relevanceLevel: 2 } },
};

/**
 * Measures trec_eval prints that ragops does not compute; rows of these are
 * skipped. Everything else in every expected file must be reproduced.
 */
const NOT_IMPLEMENTED = /^(gm_map|gm_bpref|bpref|infAP|iprec_at_recall_.*|Rprec_mult_.*|utility|11pt_avg|binG|G|ndcg|ndcg_rel|Rndcg|map_cut_.*|relative_P_.*|set_(P|relative_P|recall|map|F)|num_nonrel_judged_ret|rbp|rbp_resid|unj_.*)$/;

const expectedFiles = readdirSync(join(FIXTURES, "expected")).filter((f) => f.endsWith(".out"));

describe("trec_eval 10.0 expected outputs", () => {
  it("has a recipe for every expected output", () => {
    expect(expectedFiles.filter((f) => !CASES[f.replace(/(\.4dp)?\.out$/, "")])).toEqual([]);
  });

  for (const file of expectedFiles) {
    const recipe = CASES[file.replace(/(\.4dp)?\.out$/, "")];
    if (!recipe) continue;
    // Full-precision files (17 significant digits) must match to 1e-9; the 4-decimal ones to their rounding.
    const tolerance = file.includes(".4dp.") ? 0.5e-4 + 1e-12 : 1e-9;
    it(`reproduces every implemented value of ${file}, per query and on average`, () => {
      const rows = read(join("expected", file))
        .trim()
        .split("\n")
        .map((line) => line.trim().split(/\s+/) as [string, string, string]);
      const cutoffs = [...new Set(rows.flatMap(([measure]) => (/_(\d+)$/.test(measure) ? [Number(/_(\d+)$/.exec(measure)?.[1])] : [])))];
      const qrels = parseQrels(read(recipe.qrels));
      const run = parseRun(read(recipe.run));
      if (recipe.refuses) {
        // trec_eval 10.0 stops at the missing query; the rows it printed before are the per-query values.
        expect(() => evaluateRun(qrels, run.queries, { ...recipe.options, cutoffs })).toThrow(new RegExp(`query ${recipe.refuses} has judgments but no results`));
      }
      const result = evaluateRun(qrels, run.queries, { ...recipe.options, cutoffs, ...(recipe.refuses ? { completeQueries: true } : {}) });
      const ours = new Map(result.queries.map(({ qid, metrics }) => [qid, trecMeasures(metrics)]));
      ours.set("all", trecMeasures(result.all));
      let compared = 0;
      for (const [measure, qid, value] of rows) {
        if (measure === "runid") {
          expect(run.tag, "runid").toBe(value);
          continue;
        }
        if (NOT_IMPLEMENTED.test(measure)) continue;
        const got = ours.get(qid)?.get(measure);
        expect(got, `${measure} ${qid}`).toBeDefined();
        expect(Math.abs((got as number) - Number(value)), `${measure} ${qid}: ours ${got}, trec_eval ${value}`).toBeLessThanOrEqual(tolerance);
        compared++;
      }
      expect(compared).toBeGreaterThan(0);
    });
  }

  it("gives exactly trec_eval's doubles on the full-precision outputs (max abs diff 0)", () => {
    let maxDiff = 0;
    for (const file of expectedFiles.filter((f) => !f.includes(".4dp."))) {
      const recipe = CASES[file.replace(/\.out$/, "")];
      if (!recipe) continue;
      const rows = read(join("expected", file)).trim().split("\n").map((l) => l.trim().split(/\s+/) as [string, string, string]);
      const cutoffs = [...new Set(rows.flatMap(([m]) => (/_(\d+)$/.test(m) ? [Number(/_(\d+)$/.exec(m)?.[1])] : [])))];
      const result = evaluateRun(parseQrels(read(recipe.qrels)), parseRun(read(recipe.run)).queries, { ...recipe.options, cutoffs, ...(recipe.refuses ? { completeQueries: true } : {}) });
      const ours = new Map(result.queries.map(({ qid, metrics }) => [qid, trecMeasures(metrics)]));
      ours.set("all", trecMeasures(result.all));
      for (const [measure, qid, value] of rows) {
        const got = ours.get(qid)?.get(measure);
        if (got !== undefined) maxDiff = Math.max(maxDiff, Math.abs(got - Number(value)));
      }
    }
    expect(maxDiff).toBe(0);
  });
});

const judged = (entries: Record<string, number>) => new Map(Object.entries(entries));
const docs = (...entries: [string, number][]): ScoredDoc[] => entries.map(([docno, score]) => ({ docno, score }));

describe("evaluateQuery by hand", () => {
  it("pads a ranking shorter than k with non-relevant documents", () => {
    const m = evaluateQuery("q", judged({ a: 1, b: 1 }), docs(["a", 2], ["x", 1]), { cutoffs: [1, 5, 10] });
    expect(m.precision).toEqual({ 1: 1, 5: 1 / 5, 10: 1 / 10 });
    expect(m.recall).toEqual({ 1: 0.5, 5: 0.5, 10: 0.5 });
    expect(m.success).toEqual({ 1: 1, 5: 1, 10: 1 });
    // DCG 1 (rank 1); ideal 1 + 1/log2(3).
    expect(m.ndcg[10]).toBeCloseTo(1 / (1 + 1 / Math.log2(3)), 15);
  });

  it("scores a query without relevant documents as 0 everywhere", () => {
    const m = evaluateQuery("q", judged({ a: 0, b: 0 }), docs(["a", 2], ["b", 1]), { cutoffs: [1, 10] });
    expect(m).toMatchObject({ numRel: 0, numRelRet: 0, map: 0, rprec: 0, recipRank: 0 });
    expect([m.precision[10], m.recall[10], m.success[10], m.ndcg[10]]).toEqual([0, 0, 0, 0]);
  });

  it("breaks score ties by docno descending in byte order, ignoring input order", () => {
    // "d9" > "d10" byte-wise, so d9 ranks first; only d10 is relevant.
    const a = evaluateQuery("q", judged({ d10: 1, d9: 0 }), docs(["d10", 0.8], ["d9", 0.8]), { cutoffs: [1] });
    const b = evaluateQuery("q", judged({ d10: 1, d9: 0 }), docs(["d9", 0.8], ["d10", 0.8]), { cutoffs: [1] });
    expect(a).toEqual(b);
    expect(a.recipRank).toBe(0.5);
  });

  it("uses grades 0-3 as nDCG gains with a log2(rank + 1) discount", () => {
    const m = evaluateQuery("q", judged({ a: 3, b: 2, c: 0, d: 1 }), docs(["c", 4], ["b", 3], ["a", 2], ["d", 1]), { cutoffs: [3, 4] });
    const dcg3 = 0 + 2 / Math.log2(3) + 3 / Math.log2(4);
    const idcg3 = 3 + 2 / Math.log2(3) + 1 / Math.log2(4);
    expect(m.ndcg[3]).toBeCloseTo(dcg3 / idcg3, 15);
    const dcg4 = dcg3 + 1 / Math.log2(5);
    expect(m.ndcg[4]).toBeCloseTo(dcg4 / idcg3, 15);
    // -l2 changes what is relevant, not the gains.
    const l2 = evaluateQuery("q", judged({ a: 3, b: 2, c: 0, d: 1 }), docs(["c", 4], ["b", 3], ["a", 2], ["d", 1]), { cutoffs: [3, 4], relevanceLevel: 2 });
    expect(l2.ndcg).toEqual(m.ndcg);
    expect([l2.numRel, m.numRel]).toEqual([2, 3]);
  });

  it("scores an empty ranking as 0 with its relevant documents still counted", () => {
    const m = evaluateQuery("q", judged({ a: 1 }), [], { cutoffs: [1, 10] });
    expect(m).toMatchObject({ numRet: 0, numRel: 1, numRelRet: 0, map: 0, rprec: 0, recipRank: 0 });
    expect(m.ndcg).toEqual({ 1: 0, 10: 0 });
  });

  it("refuses a document ranked twice for a query", () => {
    expect(() => evaluateQuery("q", judged({ a: 1 }), docs(["a", 1], ["a", 0.5]))).toThrow(InvalidRequestError);
  });

  it("refuses a judged query missing from the run unless completeQueries counts it as 0", () => {
    const qrels = new Map([["q1", judged({ a: 1 })], ["q2", judged({ b: 1 })]]);
    const run = new Map([["q1", docs(["a", 1])]]);
    expect(() => evaluateRun(qrels, run)).toThrow(/query q2 has judgments but no results/);
    const complete = evaluateRun(qrels, run, { completeQueries: true, cutoffs: [1] });
    expect(complete.all).toMatchObject({ numQ: 2, map: 0.5, numRel: 2 });
    expect(evaluateRun(qrels, run, { skipMissingQueries: true, cutoffs: [1] }).all).toMatchObject({ numQ: 1, map: 1 });
  });

  it("ignores run queries without judgments", () => {
    const qrels = new Map([["q1", judged({ a: 1 })]]);
    const run = new Map([["q1", docs(["a", 1])], ["q9", docs(["z", 1])]]);
    expect(evaluateRun(qrels, run, { cutoffs: [1] }).queries.map((q) => q.qid)).toEqual(["q1"]);
  });
});

describe("compareBytes", () => {
  it("orders strings as strcmp orders their UTF-8 bytes", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme" }), fc.string({ unit: "grapheme" }), (a, b) => {
        expect(Math.sign(compareBytes(a, b))).toBe(Math.sign(Buffer.compare(Buffer.from(a), Buffer.from(b))));
      }),
    );
  });
});

/** A query: distinct docnos with scores (ties likely) and grades -1..3 for some of them. */
const queryArb = fc
  .uniqueArray(fc.record({ docno: fc.stringMatching(/^[a-d][0-9]{0,2}$/), score: fc.integer({ min: -3, max: 3 }).map((s) => s / 2), grade: fc.option(fc.integer({ min: -1, max: 3 })) }), {
    selector: (d) => d.docno,
    maxLength: 30,
  })
  .map((rows) => ({
    docs: rows.map(({ docno, score }) => ({ docno, score })),
    judgments: new Map(rows.flatMap(({ docno, grade }) => (grade === null ? [] : [[docno, grade] as [string, number]]))),
  }));

describe("metric properties", () => {
  const cutoffs = [1, 3, 5, 10, 20];

  it("keeps every ratio metric in [0, 1]", () => {
    fc.assert(
      fc.property(queryArb, fc.integer({ min: 1, max: 3 }), ({ docs: ranked, judgments }, relevanceLevel) => {
        const m = evaluateQuery("q", judgments, ranked, { cutoffs, relevanceLevel });
        const values = [m.map, m.rprec, m.recipRank, ...[m.precision, m.recall, m.success, m.ndcg].flatMap((r) => Object.values(r))];
        for (const v of values) expect(v >= 0 && v <= 1 + 1e-12, String(v)).toBe(true);
      }),
    );
  });

  it("has P@k * k equal to the relevant documents retrieved in the top k", () => {
    fc.assert(
      fc.property(queryArb, ({ docs: ranked, judgments }) => {
        const m = evaluateQuery("q", judgments, ranked, { cutoffs });
        const order = [...ranked].sort((a, b) => (a.score !== b.score ? b.score - a.score : compareBytes(b.docno, a.docno)));
        for (const k of cutoffs) {
          const hits = order.slice(0, k).filter((d) => (judgments.get(d.docno) ?? -1) >= 1).length;
          expect(Math.round((m.precision[k] as number) * k)).toBe(hits);
        }
      }),
    );
  });

  it("gives the same results whatever the order of the input lines", () => {
    fc.assert(
      fc.property(
        queryArb.chain((q) => fc.shuffledSubarray(q.docs, { minLength: q.docs.length, maxLength: q.docs.length }).map((shuffled) => ({ ...q, shuffled }))),
        ({ docs: ranked, judgments, shuffled }) => {
          const qrelsText = (entries: [string, number][]) => entries.map(([d, g]) => `q 0 ${d} ${g}`).join("\n");
          const runText = (list: ScoredDoc[]) => list.map((d, i) => `q Q0 ${d.docno} ${i} ${d.score} t`).join("\n");
          if (judgments.size === 0) return;
          const a = evaluateRun(parseQrels(qrelsText([...judgments])), parseRun(runText(ranked)).queries, { cutoffs, completeQueries: true });
          const b = evaluateRun(parseQrels(qrelsText([...judgments].reverse())), parseRun(runText(shuffled)).queries, { cutoffs, completeQueries: true });
          expect(b).toEqual(a);
        },
      ),
    );
  });
});
