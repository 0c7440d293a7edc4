import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countProgress, leastRetrySpanMs, retryDelay } from "./worker-options.js";

describe("progress over many documents", () => {
  it("is done of total in percent, rounded, within 0-100, with the counts in the detail", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1_000_000 }), fc.double({ min: 0, max: 1, noNaN: true }), (total, share) => {
        const done = Math.floor(share * total);
        const progress = countProgress(done, total);
        expect(progress.stage).toBe("indexing");
        expect(progress.percent).toBe(Math.round((100 * done) / total));
        expect(progress.percent).toBeGreaterThanOrEqual(0);
        expect(progress.percent).toBeLessThanOrEqual(100);
        expect(progress.detail).toBe(`${done}/${total} documents`);
      }),
    );
  });

  it("is 100 % when there is nothing to do", () => {
    expect(countProgress(0, 0)).toEqual({ stage: "indexing", percent: 100, detail: "0/0 documents" });
  });
});

describe("retry backoff", () => {
  it("draws each delay between half its ceiling and the ceiling, the ceiling doubling up to backoffMaxMs", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 120_000 }), fc.double({ min: 0, max: 0.999999, noNaN: true }), (retry, backoffMs, backoffMaxMs, draw) => {
        const ceiling = Math.min(backoffMaxMs, backoffMs * 2 ** (retry - 1));
        const delay = retryDelay(retry, { backoffMs, backoffMaxMs }, () => draw);
        expect(delay).toBeGreaterThanOrEqual(Math.round(ceiling / 2));
        expect(delay).toBeLessThanOrEqual(Math.round(ceiling));
      }),
    );
  });

  it("spans at least a minute over a job's attempts with the defaults, so a one-minute storage outage fails no job", () => {
    expect(leastRetrySpanMs({ attempts: 8, backoffMs: 2_000, backoffMaxMs: 30_000 })).toBeGreaterThanOrEqual(60_000);
  });
});
