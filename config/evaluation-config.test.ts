import { describe, expect, it } from "vitest";
import { loadConfig } from "./load.js";

describe("evaluation config", () => {
  it("gates on nDCG@10 by default: a 0.30 floor, paired non-regression within 0.01 at 95 %, at most 10 % of questions losing more than 0.2", () => {
    const { evaluation } = loadConfig({ env: {} });
    expect(evaluation).toEqual({
      maxTopK: 1000,
      defaultK: 100,
      cutoffs: [1, 3, 5, 10],
      bootstrap: { resamples: 2000, seed: 42 },
      gate: {
        thresholds: { "ndcg@10": 0.3 },
        nonRegression: { metrics: ["ndcg@10"], tolerance: 0.01, confidence: 0.95 },
        tail: { metrics: ["ndcg@10"], delta: 0.2, maxShare: 0.1 },
      },
    });
  });

  it("replaces the default thresholds with the configured ones and keeps the other gate defaults", () => {
    const { evaluation } = loadConfig({ env: {}, overrides: { evaluation: { cutoffs: [10, 100], gate: { thresholds: { "recall@100": 0.8, mrr: 0.4 } } } } });
    expect(evaluation.gate.thresholds).toEqual({ "recall@100": 0.8, mrr: 0.4 });
    expect(evaluation.gate.nonRegression.tolerance).toBe(0.01);
  });

  it("names the setting when a metric name, a threshold or a share is malformed", () => {
    expect(() => loadConfig({ env: {}, overrides: { evaluation: { gate: { thresholds: { "NDCG 10": 0.3 } } } } })).toThrowError(/evaluation\.gate\.thresholds.*metric names are lowercase/);
    expect(() => loadConfig({ env: {}, overrides: { evaluation: { gate: { thresholds: { "ndcg@10": 30 } } } } })).toThrowError(/evaluation\.gate\.thresholds\.ndcg@10/);
    expect(() => loadConfig({ env: {}, overrides: { evaluation: { gate: { tail: { maxShare: 1.5 } } } } })).toThrowError(/evaluation\.gate\.tail\.maxShare/);
    expect(() => loadConfig({ env: {}, overrides: { evaluation: { gate: { nonRegression: { metrics: ["mrr", "mrr"] } } } } })).toThrowError(/nonRegression\.metrics: list each metric once/);
  });

  it("refuses at start a gate metric no report would hold: a cutoff outside evaluation.cutoffs, or an unknown metric", () => {
    expect(() => loadConfig({ env: {}, overrides: { evaluation: { gate: { thresholds: { "recall@100": 0.8 } } } } })).toThrowError(/evaluation\.gate\.thresholds.*recall@100.*cutoffs \(1, 3, 5, 10\)/);
    expect(() => loadConfig({ env: {}, overrides: { evaluation: { gate: { tail: { metrics: ["ndgc@10"] } } } } })).toThrowError(/evaluation\.gate\.tail\.metrics.*ndgc@10.*known/);
    expect(() => loadConfig({ env: {}, overrides: { evaluation: { cutoffs: [5], gate: { thresholds: { "hit@5": 0.5, context_recall: 0.5 }, nonRegression: { metrics: ["map"] }, tail: { metrics: ["precision@5"] } } } } })).not.toThrow();
    expect(() => loadConfig({ env: {}, overrides: { evaluation: { gate: { thresholds: { contained_context_recall: 0.5 }, nonRegression: { metrics: ["contained_context_precision"] } } } } })).not.toThrow();
    expect(() => loadConfig({ env: {}, overrides: { evaluation: { defaultK: 500, maxTopK: 100 } } })).toThrowError(/evaluation\.defaultK/);
  });
});
