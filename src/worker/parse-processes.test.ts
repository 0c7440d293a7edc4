import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseProcesses } from "./worker.js";

describe("parse processes of a worker", () => {
  it("are one per core by default, as configured otherwise, never more than the jobs run at once and never none", () => {
    expect(parseProcesses(0, 8, 2)).toBe(2);
    expect(parseProcesses(0, 1, 2)).toBe(1);
    expect(parseProcesses(3, 8, 2)).toBe(3);
    fc.assert(
      fc.property(fc.nat({ max: 64 }), fc.integer({ min: 1, max: 64 }), fc.integer({ min: 1, max: 128 }), (configured, concurrency, cores) => {
        const n = parseProcesses(configured, concurrency, cores);
        expect(n).toBeGreaterThanOrEqual(1);
        expect(n).toBeLessThanOrEqual(concurrency);
        expect(n).toBeLessThanOrEqual(configured > 0 ? configured : cores);
      }),
    );
  });
});
