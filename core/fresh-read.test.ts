import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { freshRead } from "./fresh-read.js";

describe("freshRead", () => {
  it("answers every caller with a read that started after it asked, for any interleaving of callers and read completions", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 12 }), async (s, callers) => {
        let started = 0;
        // Each read answers with its place among the reads started: a later read answers more.
        const read = freshRead(() => {
          const place = (started += 1);
          return s.schedule(Promise.resolve(place), `read ${place}`);
        });
        const answers = Array.from({ length: callers }, (_, i) =>
          s.schedule(Promise.resolve(), `caller ${i}`).then(async () => {
            const readsBefore = started;
            return { readsBefore, got: await read() };
          }),
        );
        const all = Promise.all(answers);
        let settled = false;
        void all.finally(() => (settled = true));
        // A read may be scheduled a few promise hops after the one before it resolved: run the scheduler until every caller has its answer.
        for (let round = 0; !settled; round++) {
          if (round > 100) throw new Error(`callers still waiting after ${round} rounds: a read was never started`);
          await s.waitAll();
          await new Promise((resolve) => setImmediate(resolve));
        }
        for (const { readsBefore, got } of await all) expect(got).toBeGreaterThan(readsBefore);
      }),
      { numRuns: 200 },
    );
  });

  it("shares one read among the callers that arrive while another is running: at most two reads for any number of concurrent callers", async () => {
    let reads = 0;
    let release: (() => void) | undefined;
    const read = freshRead(async () => {
      reads += 1;
      await new Promise<void>((resolve) => (release = resolve));
      return reads;
    });
    const first = read();
    const waiting = Array.from({ length: 20 }, () => read());
    release?.();
    expect(await first).toBe(1);
    await Promise.resolve();
    await new Promise((resolve) => setImmediate(resolve));
    release?.();
    expect(new Set(await Promise.all(waiting))).toEqual(new Set([2]));
    expect(reads).toBe(2);
  });

  it("passes a failed read's error to its callers and reads afresh for the next", async () => {
    let calls = 0;
    const read = freshRead(async () => {
      calls += 1;
      if (calls === 1) throw new Error("disk gone");
      return calls;
    });
    await expect(read()).rejects.toThrow("disk gone");
    expect(await read()).toBe(2);
  });
});
