import { describe, expect, it } from "vitest";
import type { EvaluationReport } from "../../indexer/evaluation/run.js";
import { formatEvaluation } from "./output.js";

const report = (version: string, aggregates: EvaluationReport["aggregates"], gate?: EvaluationReport["gate"]): EvaluationReport => ({
  id: `${version}.gs.v1.00000000`,
  version,
  goldenSet: { name: "gs", version: 1, judgmentLevel: "document" },
  k: 100,
  cutoffs: [10],
  createdAt: "2026-01-01T00:00:00.000Z",
  questions: [],
  aggregates,
  trec: { run: "run.txt", qrels: "qrels.txt", tag: `ragops-${version}` },
  ...(gate ? { gate, live: { version: "v1", reportId: "v1.gs.v1.00000000" } } : {}),
});

const live = report("v1", { "ndcg@10": { mean: 0.8, ci: [0.7, 0.9], n: 18 }, mrr: { mean: 0.75, ci: [0.6, 0.85], n: 18 }, map: { mean: 0.5, ci: [0.4, 0.6], n: 18 } });

const green = report(
  "v2",
  { "ndcg@10": { mean: 0.7, ci: [0.55, 0.82], n: 18 }, mrr: { mean: 0.7, ci: [0.5, 0.8], n: 18 }, map: { mean: 0.45, ci: [0.35, 0.55], n: 18 } },
  {
    passed: true,
    comparedWithLive: true,
    summary: "passed: 1 of 1 rules",
    // A mean loss whose paired CI still reaches above the bound: the rule passes although the mean is below it.
    rules: [{ rule: "non-regression", metric: "ndcg@10", observed: -0.1, bound: -0.01, passed: true, detail: "…", interval: { estimate: -0.1, lower: -0.3, upper: 0.02, confidence: 0.95, resamples: 2000 } }],
  },
);

describe("the evaluation table", () => {
  it("puts live's mean and 95 % CI beside the green's on each row, in the order asked, leaving other metrics out", () => {
    const text = formatEvaluation(green, live, { metrics: ["mrr", "ndcg@10"] });
    const metricTable = text.split("gate:")[0] ?? "";
    const rows = metricTable.split("\n").filter((line) => /(mrr|ndcg@10|map) /.test(line));
    expect(rows.map((row) => row.match(/(mrr|ndcg@10|map)/)?.[1])).toEqual(["mrr", "ndcg@10"]);
    expect(rows[1]).toMatch(/0\.8000 \[0\.7000, 0\.9000\].*0\.7000 \[0\.5500, 0\.8200\].*-0\.1000/);
  });

  it("shows the non-regression rule's CI upper bound beside its mean, so a passing rule with a mean below the bound reads right", () => {
    const row = formatEvaluation(green, live).split("\n").find((line) => line.includes("non-regression"));
    expect(row).toMatch(/-0\.1000 \(CI upper 0\.0200\).*-0\.0100.*pass/);
  });
});
