import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { evaluationSchema, type GateConfig } from "../../config/schema.js";
import { createRng, type Rng } from "./bootstrap.js";
import { evaluateGate, type GateInput, type QuestionMetrics } from "./gate.js";

const defaults = evaluationSchema.parse({});

function gateWith(overrides: Partial<GateConfig> = {}): GateConfig {
  return { ...defaults.gate, ...overrides };
}

function rows(values: readonly number[], metric = "ndcg@10"): QuestionMetrics[] {
  return values.map((value, i) => ({ questionId: `q${i}`, metrics: { [metric]: value } }));
}

/** Per-question scores spread over [0.2, 0.8], like a real golden set's nDCG@10. */
function spread(n: number, seed: number): number[] {
  const rng = createRng(seed);
  return Array.from({ length: n }, () => 0.2 + 0.6 * rng());
}

function run(candidate: QuestionMetrics[], live: QuestionMetrics[] | undefined, gate = gateWith()): ReturnType<typeof evaluateGate> {
  return evaluateGate({ candidate, live, gate, bootstrap: defaults.bootstrap });
}

describe("evaluateGate", () => {
  const live = spread(200, 1);

  it("passes an identical copy of live, listing each rule with its observed value and bound", () => {
    const verdict = run(rows(live), rows(live));
    expect(verdict.passed).toBe(true);
    expect(verdict.comparedWithLive).toBe(true);
    expect(verdict.rules.map(({ rule, metric, passed }) => ({ rule, metric, passed }))).toEqual([
      { rule: "threshold", metric: "ndcg@10", passed: true },
      { rule: "non-regression", metric: "ndcg@10", passed: true },
      { rule: "tail", metric: "ndcg@10", passed: true },
    ]);
    const nonRegression = verdict.rules[1];
    expect(nonRegression?.observed).toBe(0);
    expect(nonRegression?.bound).toBe(-0.01);
    expect(nonRegression?.interval).toMatchObject({ lower: 0, upper: 0, confidence: 0.95 });
  });

  it("passes a clearly better green", () => {
    const verdict = run(rows(live.map((value) => Math.min(1, value + 0.1))), rows(live));
    expect(verdict.passed).toBe(true);
    expect(verdict.rules.find((rule) => rule.rule === "non-regression")?.interval?.lower).toBeGreaterThan(0);
  });

  it("fails a worse green on non-regression and names the rule and metric", () => {
    const worse = live.map((value, i) => (i % 2 === 0 ? value - 0.08 : value));
    const verdict = run(rows(worse), rows(live));
    expect(verdict.passed).toBe(false);
    const failed = verdict.rules.filter((rule) => !rule.passed);
    expect(failed.map(({ rule, metric }) => `${rule} ${metric}`)).toEqual(["non-regression ndcg@10"]);
    expect(failed[0]?.observed).toBeCloseTo(-0.04, 10);
    expect(failed[0]?.interval?.upper).toBeLessThan(-0.01);
    expect(failed[0]?.detail).toMatch(/worse than live by more than the tolerance 0\.0100/);
    expect(verdict.summary).toBe("failed 1 of 3 rules: non-regression on ndcg@10");
  });

  it("fails the tail rule on a few large losses hidden in a flat mean, and lists the questions that lost", () => {
    // 30 of 200 questions lose 0.5; the other 170 gain exactly enough to keep the mean difference at 0.
    const base = live.map((value) => 0.6 + 0.3 * value);
    const green = base.map((value, i) => (i < 30 ? value - 0.5 : value + 15 / 170));
    const verdict = run(rows(green), rows(base));
    const byRule = Object.fromEntries(verdict.rules.map((rule) => [rule.rule, rule]));
    expect(byRule["non-regression"]?.observed).toBeCloseTo(0, 10);
    expect(byRule["non-regression"]?.passed).toBe(true);
    expect(byRule.tail?.passed).toBe(false);
    expect(byRule.tail?.observed).toBe(0.15);
    expect(byRule.tail?.bound).toBe(0.1);
    expect(byRule.tail?.questionIds).toHaveLength(30);
    expect(byRule.tail?.detail).toMatch(/^30 of 200 questions \(15\.0 %\) lose more than 0\.2000 ndcg@10 against live; at most 10\.0 % may; largest: q\d+ \(−0\.5000\)/);
    expect(verdict.passed).toBe(false);
  });

  it("lets exactly maxShare of the questions lose more than delta, and not one more", () => {
    const base = Array<number>(100).fill(0.7);
    const lose = (count: number): number[] => base.map((value, i) => (i < count ? value - 0.3 : value + 0.05));
    const tail = (count: number) => run(rows(lose(count)), rows(base), gateWith({ thresholds: {} })).rules.find((rule) => rule.rule === "tail");
    expect(tail(10)?.passed).toBe(true);
    expect(tail(11)?.passed).toBe(false);
  });

  it("passes a threshold at the boundary and fails it just below", () => {
    const candidate = rows([0.25, 0.25, 0.5, 0.5]); // mean 0.375, exact in binary
    expect(run(candidate, undefined, gateWith({ thresholds: { "ndcg@10": 0.375 } })).passed).toBe(true);
    const below = run(candidate, undefined, gateWith({ thresholds: { "ndcg@10": 0.375001 } }));
    expect(below.passed).toBe(false);
    expect(below.rules).toEqual([{ rule: "threshold", metric: "ndcg@10", observed: 0.375, bound: 0.375001, passed: false, detail: "mean ndcg@10 0.3750 is below the threshold 0.3750" }]);
  });

  it("does not flip a threshold on rounding: a mean that equals the floor up to float error passes", () => {
    const values = Array<number>(10).fill(0.1); // summed in floats: 0.9999999999999999
    expect(run(rows(values), undefined, gateWith({ thresholds: { "ndcg@10": 0.1 } })).passed).toBe(true);
  });

  it("checks only the thresholds when there is no live version, and says so", () => {
    const verdict = run(rows(live), undefined, gateWith({ thresholds: { "ndcg@10": 0.3 } }));
    expect(verdict.comparedWithLive).toBe(false);
    expect(verdict.rules.map((rule) => rule.rule)).toEqual(["threshold"]);
    expect(verdict.summary).toBe("passed: 1 of 1 rules (no live version: only the absolute thresholds apply)");
  });

  it("gives the same verdict for the same seed", () => {
    const worse = live.map((value, i) => value - (i % 7) * 0.01);
    expect(run(rows(worse), rows(live))).toEqual(run(rows(worse), rows(live)));
  });

  it("refuses to compare evaluations of different question sets, naming the questions", () => {
    const candidate = rows([0.5, 0.5, 0.5]);
    const other = [...rows([0.5, 0.5]), { questionId: "extra", metrics: { "ndcg@10": 0.5 } }];
    expect(() => run(candidate, other)).toThrowError(/same questions.*only in the candidate: "q2"; only in live: "extra"/);
  });

  it("refuses a question listed twice, and a metric the rows do not hold, saying what to do", () => {
    expect(() => run([...rows([0.5]), ...rows([0.6])], undefined)).toThrowError(/question "q0" twice/);
    expect(() => run(rows([0.5], "mrr"), undefined)).toThrowError(/needs ndcg@10 but the candidate row of question "q0" has none/);
    expect(() => run(rows([0.5]), rows([0.5], "mrr"), gateWith({ thresholds: {} }))).toThrowError(/live row of question "q0" has none/);
  });

  describe("property: the verdict", () => {
    const metrics = ["ndcg@10", "recall@10", "mrr"] as const;
    const metricSubset = fc.subarray([...metrics]);
    const row = fc.record({ "ndcg@10": fc.double({ min: 0, max: 1, noNaN: true }), "recall@10": fc.double({ min: 0, max: 1, noNaN: true }), mrr: fc.double({ min: 0, max: 1, noNaN: true }) });
    const gate: fc.Arbitrary<GateConfig> = fc.record({
      thresholds: fc.dictionary(fc.constantFrom(...metrics), fc.double({ min: 0, max: 1, noNaN: true })),
      nonRegression: fc.record({ metrics: metricSubset, tolerance: fc.double({ min: 0, max: 0.2, noNaN: true }), confidence: fc.constantFrom(0.8, 0.9, 0.95) }),
      tail: fc.record({ metrics: metricSubset, delta: fc.double({ min: 0.01, max: 1, noNaN: true }), maxShare: fc.double({ min: 0, max: 1, noNaN: true }) }),
    });
    const input: fc.Arbitrary<GateInput> = fc.integer({ min: 1, max: 25 }).chain((n) =>
      fc.record({
        candidate: fc.array(row, { minLength: n, maxLength: n }),
        live: fc.option(fc.array(row, { minLength: n, maxLength: n }), { nil: undefined }),
        gate,
        bootstrap: fc.record({ resamples: fc.constant(200), seed: fc.nat() }),
      }).map(({ candidate, live, ...rest }) => ({
        ...rest,
        candidate: candidate.map((metrics, i) => ({ questionId: `q${i}`, metrics })),
        // Live lists the same questions in reverse order: pairing is by id, not by position.
        live: live?.map((metrics, i) => ({ questionId: `q${i}`, metrics })).reverse(),
      })),
    );

    it("never passes when a rule fails, and lists exactly one rule per configured (rule, metric)", () => {
      fc.assert(
        fc.property(input, (gateInput) => {
          const verdict = evaluateGate(gateInput);
          expect(verdict.passed).toBe(verdict.rules.every((rule) => rule.passed));
          const expected = [
            ...Object.keys(gateInput.gate.thresholds).map((metric) => `threshold ${metric}`),
            ...(gateInput.live ? gateInput.gate.nonRegression.metrics.map((metric) => `non-regression ${metric}`) : []),
            ...(gateInput.live ? gateInput.gate.tail.metrics.map((metric) => `tail ${metric}`) : []),
          ];
          expect(verdict.rules.map(({ rule, metric }) => `${rule} ${metric}`)).toEqual(expected);
          expect(verdict.comparedWithLive).toBe(gateInput.live !== undefined);
        }),
        { numRuns: 300 },
      );
    });

    it("passes each rule exactly when its observed value is on the right side of its bound", () => {
      const slack = 1e-12;
      fc.assert(
        fc.property(input, (gateInput) => {
          for (const rule of evaluateGate(gateInput).rules) {
            const expected =
              rule.rule === "threshold" ? rule.observed >= rule.bound - slack : rule.rule === "tail" ? rule.observed <= rule.bound + slack : (rule.interval?.upper as number) >= rule.bound - slack;
            expect(rule.passed, `${rule.rule} ${rule.metric}: ${rule.detail}`).toBe(expected);
          }
        }),
        { numRuns: 300 },
      );
    });
  });
});

/**
 * The statistical acceptance test. A simulated golden set of 200 questions with graded
 * judgments (1-8 relevant chunks each, grades 1-3) and a live ranking of 100 candidates scored
 * with noise; scores are rounded to 0.1, so ties are common and each evaluation breaks them in
 * its own random order (as an approximate index might). nDCG@10 is trec_eval's ndcg_cut_10:
 * gain = grade, discount log2(rank + 1), ideal from all judged chunks.
 */
describe("gate acceptance over seeded simulations", () => {
  interface Candidate {
    id: number;
    grade: number;
    score: number;
  }
  type Question = Candidate[];
  const QUESTIONS = 200;
  const DEPTH = 100;
  const TRIALS = 100;

  function normal(rng: Rng): number {
    return Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  }

  function simulateGoldenSet(rng: Rng): Question[] {
    return Array.from({ length: QUESTIONS }, () => {
      const relevant = 1 + Math.floor(rng() * 8);
      return Array.from({ length: DEPTH }, (_, id) => {
        const grade = id < relevant ? 1 + Math.floor(rng() * 3) : 0;
        const score = Math.round(((grade > 0 ? 1.6 : 0) + normal(rng)) * 10) / 10;
        return { id, grade, score };
      });
    });
  }

  const dcg = (grades: number[]): number => grades.slice(0, 10).reduce((sum, grade, rank) => sum + grade / Math.log2(rank + 2), 0);

  function ndcgAt10(question: Question, kept: Question, rng: Rng): number {
    const tieBreak = new Float64Array(DEPTH);
    for (const c of kept) tieBreak[c.id] = rng();
    const ranking = [...kept].sort((a, b) => b.score - a.score || (tieBreak[a.id] as number) - (tieBreak[b.id] as number));
    const ideal = dcg(question.map((c) => c.grade).sort((a, b) => b - a));
    return dcg(ranking.map((c) => c.grade)) / ideal;
  }

  function evaluate(goldenSet: Question[], kept: (question: Question) => Question, rng: Rng): QuestionMetrics[] {
    return goldenSet.map((question, i) => ({ questionId: `q${i}`, metrics: { "ndcg@10": ndcgAt10(question, kept(question), rng) } }));
  }

  /** Green lost exactly 10 % of the golden set's relevant chunks (they are gone from its index, still judged relevant). */
  function lose10Percent(goldenSet: Question[], rng: Rng): Set<Candidate> {
    const relevant = goldenSet.flat().filter((c) => c.grade > 0);
    for (let i = relevant.length - 1; i > 0; i--) {
      const j = Math.floor(rng() * (i + 1));
      [relevant[i], relevant[j]] = [relevant[j] as Candidate, relevant[i] as Candidate];
    }
    return new Set(relevant.slice(0, Math.round(relevant.length * 0.1)));
  }

  function trials(makeGreen: (goldenSet: Question[], rng: Rng) => (question: Question) => Question): { rejected: number; rejectedByNonRegression: number } {
    let rejected = 0;
    let rejectedByNonRegression = 0;
    for (let trial = 0; trial < TRIALS; trial++) {
      const rng = createRng(1_000 + trial);
      const goldenSet = simulateGoldenSet(rng);
      const live = evaluate(goldenSet, (question) => question, rng);
      const green = evaluate(goldenSet, makeGreen(goldenSet, rng), rng);
      const verdict = evaluateGate({ candidate: green, live, gate: defaults.gate, bootstrap: { resamples: 1_000, seed: trial } });
      if (!verdict.passed) rejected++;
      if (verdict.rules.some((rule) => rule.rule === "non-regression" && !rule.passed)) rejectedByNonRegression++;
    }
    return { rejected, rejectedByNonRegression };
  }

  it("rejects at least 95 of 100 greens that lost 10 % of their relevant chunks, on non-regression", () => {
    const { rejected, rejectedByNonRegression } = trials((goldenSet, rng) => {
      const lost = lose10Percent(goldenSet, rng);
      return (question) => question.filter((c) => !lost.has(c));
    });
    expect(rejected).toBeGreaterThanOrEqual(95);
    expect(rejectedByNonRegression).toBeGreaterThanOrEqual(95);
  });

  it("accepts at least 95 of 100 identical copies that break score ties in their own order", () => {
    const { rejected } = trials(() => (question) => question);
    expect(TRIALS - rejected).toBeGreaterThanOrEqual(95);
  });
});
