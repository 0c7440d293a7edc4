import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { countProgress } from "./worker-options.js";

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
