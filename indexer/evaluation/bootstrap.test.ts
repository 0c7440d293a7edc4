import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bootstrapMeanCI, createRng, pairedBootstrapCI, streamSeed } from "./bootstrap.js";

describe("createRng", () => {
  it("draws the same numbers as an independent mulberry32 (Python, 32-bit masks), so runs agree across platforms", () => {
    const rng = createRng(42);
    expect([rng(), rng(), rng()]).toEqual([0.6011037519201636, 0.44829055899754167, 0.8524657934904099]);
    const zero = createRng(0);
    expect([zero(), zero(), zero()]).toEqual([0.26642920868471265, 0.0003297457005828619, 0.2232720274478197]);
  });

  it("stays in [0, 1)", () => {
    fc.assert(
      fc.property(fc.integer(), (seed) => {
        const rng = createRng(seed);
        for (let i = 0; i < 100; i++) {
          const x = rng();
          if (!(x >= 0 && x < 1)) return false;
        }
        return true;
      }),
    );
  });
});

describe("streamSeed", () => {
  it("gives each metric its own seed, and the same one on every call", () => {
    expect(streamSeed(42, "ndcg@10")).toBe(streamSeed(42, "ndcg@10"));
    expect(streamSeed(42, "ndcg@10")).not.toBe(streamSeed(42, "recall@10"));
    expect(streamSeed(42, "ndcg@10")).not.toBe(streamSeed(43, "ndcg@10"));
  });
});

describe("bootstrapMeanCI", () => {
  const sample = Array.from({ length: 50 }, (_, i) => ((i * 37) % 11) / 10);

  it("gives the same interval for the same seed, and another for another seed", () => {
    const a = bootstrapMeanCI(sample, { seed: 7, resamples: 500 });
    expect(bootstrapMeanCI(sample, { seed: 7, resamples: 500 })).toEqual(a);
    expect(bootstrapMeanCI(sample, { seed: 8, resamples: 500 })).not.toEqual(a);
  });

  it("gives a constant sample an interval of that constant", () => {
    fc.assert(
      fc.property(fc.double({ min: -1e6, max: 1e6, noNaN: true }), fc.integer({ min: 1, max: 60 }), fc.integer(), (value, n, seed) => {
        const ci = bootstrapMeanCI(Array<number>(n).fill(value), { seed, resamples: 50 });
        const tolerance = 1e-12 * Math.max(1, Math.abs(value));
        expect(Math.abs(ci.lower - value)).toBeLessThanOrEqual(tolerance);
        expect(Math.abs(ci.upper - value)).toBeLessThanOrEqual(tolerance);
        expect(Math.abs(ci.estimate - value)).toBeLessThanOrEqual(tolerance);
      }),
    );
  });

  it("keeps the interval ordered and inside the sample's range", () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1, noNaN: true }), { minLength: 1, maxLength: 40 }), fc.integer(), (values, seed) => {
        const ci = bootstrapMeanCI(values, { seed, resamples: 100 });
        const slack = 1e-12;
        expect(ci.lower).toBeLessThanOrEqual(ci.upper);
        expect(ci.lower).toBeGreaterThanOrEqual(Math.min(...values) - slack);
        expect(ci.upper).toBeLessThanOrEqual(Math.max(...values) + slack);
      }),
    );
  });

  it("covers the true mean in about 95 % of samples from a known distribution", () => {
    // Exponential(1) scores clipped to [0, 1] have a known mean 1 − 1/e; it is skewed like real
    // per-question metrics, which is where a percentile interval could under-cover.
    const trueMean = 1 - Math.exp(-1);
    const trials = 1_000;
    const n = 200; // the size of a typical golden set
    const draw = createRng(2024);
    let covered = 0;
    for (let trial = 0; trial < trials; trial++) {
      const values = Array.from({ length: n }, () => Math.min(1, -Math.log(1 - draw())));
      const ci = bootstrapMeanCI(values, { seed: trial, resamples: 1_000 });
      if (ci.lower <= trueMean && trueMean <= ci.upper) covered++;
    }
    const coverage = covered / trials;
    expect(coverage).toBeGreaterThanOrEqual(0.93);
    expect(coverage).toBeLessThanOrEqual(0.97);
  });

  it("refuses an empty sample, a non-finite value and a confidence outside (0, 1), saying which", () => {
    expect(() => bootstrapMeanCI([])).toThrowError(/empty/);
    expect(() => bootstrapMeanCI([0.1, Number.NaN])).toThrowError(/values\[1\] is NaN/);
    expect(() => bootstrapMeanCI([0.1], { confidence: 1 })).toThrowError(/confidence/);
    expect(() => bootstrapMeanCI([0.1], { resamples: 0 })).toThrowError(/resamples/);
  });
});

describe("pairedBootstrapCI", () => {
  it("resamples questions jointly: a constant gain over very different questions has a point interval", () => {
    const live = Array.from({ length: 80 }, (_, i) => (i % 10) / 10);
    const green = live.map((value) => value + 0.25);
    const ci = pairedBootstrapCI(green, live, { seed: 1, resamples: 300 });
    expect(ci.lower).toBeCloseTo(0.25, 12);
    expect(ci.upper).toBeCloseTo(0.25, 12);
    // Unpaired, the between-question spread would dominate the interval.
    const unpairedWidth = bootstrapMeanCI(green, { seed: 1, resamples: 300 }).upper - bootstrapMeanCI(live, { seed: 2, resamples: 300 }).lower;
    expect(unpairedWidth).toBeGreaterThan(0.3);
  });

  it("is the interval of the per-question differences, for the same seed", () => {
    const live = [0.1, 0.5, 0.9, 0.3, 0.7, 0.2];
    const green = [0.2, 0.4, 0.9, 0.6, 0.7, 0.1];
    expect(pairedBootstrapCI(green, live, { seed: 5 })).toEqual(bootstrapMeanCI(green.map((g, i) => g - (live[i] as number)), { seed: 5 }));
  });

  it("refuses samples of different lengths", () => {
    expect(() => pairedBootstrapCI([0.1, 0.2], [0.1])).toThrowError(/2 green and 1 live/);
  });
});
