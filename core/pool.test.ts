import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { mapBounded } from "./pool.js";

describe("mapBounded", () => {
  it("gives every result in the items' order and never runs more than `concurrency` calls at once", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.nat({ max: 3 }), { maxLength: 30 }), fc.integer({ min: 1, max: 8 }), async (delays, concurrency) => {
        let running = 0;
        let most = 0;
        const results = await mapBounded(delays, concurrency, async (ticks, i) => {
          most = Math.max(most, ++running);
          for (let t = 0; t < ticks; t++) await Promise.resolve();
          running--;
          return i * 2;
        });
        expect(results).toEqual(delays.map((_, i) => i * 2));
        expect(most).toBeLessThanOrEqual(concurrency);
      }),
    );
  });

  it("rejects with the first failure and starts nothing after it", async () => {
    const started: number[] = [];
    await expect(
      mapBounded([0, 1, 2, 3, 4, 5], 2, async (i) => {
        started.push(i);
        await Promise.resolve();
        if (i === 1) throw new Error("item 1 broke");
        return i;
      }),
    ).rejects.toThrow("item 1 broke");
    expect(started).toEqual([0, 1, 2]);
  });

  it("starts no new call once told to stop", async () => {
    let stop = false;
    const results = await mapBounded([0, 1, 2, 3], 1, async (i) => {
      if (i === 1) stop = true;
      return i;
    }, { shouldStop: () => stop });
    expect(results).toEqual([0, 1, undefined, undefined]);
  });
});
