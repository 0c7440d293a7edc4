import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { createAdmission } from "./admission.js";

class Full extends Error {}
const refuse = () => new Full("full");

/** A promise and the function that settles it: work that ends when the test says so. */
function deferred(): { promise: Promise<void>; resolve: () => void; reject: (error: Error) => void } {
  let resolve!: () => void;
  let reject!: (error: Error) => void;
  const promise = new Promise<void>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe("admission", () => {
  it("runs at most maxInFlight calls at once and lets the first in line in when one ends", async () => {
    const admission = createAdmission({ maxInFlight: 2, maxQueued: 5 }, refuse);
    const ends = [deferred(), deferred(), deferred(), deferred()];
    const started: number[] = [];
    const calls = ends.map((end, i) =>
      admission.run(async () => {
        started.push(i);
        await end.promise;
        return i;
      }),
    );
    await Promise.resolve();
    expect(started).toEqual([0, 1]);
    expect([admission.inFlight, admission.queued]).toEqual([2, 2]);
    ends[1]?.resolve();
    expect(await calls[1]).toBe(1);
    expect(started).toEqual([0, 1, 2]);
    for (const end of ends) end.resolve();
    expect(await Promise.all(calls)).toEqual([0, 1, 2, 3]);
    expect([admission.inFlight, admission.queued]).toEqual([0, 0]);
  });

  it("refuses a call at once when every place and the line are taken, and admits again once a place frees", async () => {
    const admission = createAdmission({ maxInFlight: 1, maxQueued: 0 }, refuse);
    const end = deferred();
    const first = admission.run(() => end.promise);
    await expect(admission.run(async () => "second")).rejects.toBeInstanceOf(Full);
    end.resolve();
    await first;
    expect(await admission.run(async () => "third")).toBe("third");
  });

  it("frees the place of a call whose work throws", async () => {
    const admission = createAdmission({ maxInFlight: 1, maxQueued: 0 }, refuse);
    await expect(admission.run(() => Promise.reject(new Error("boom")))).rejects.toThrow("boom");
    expect(admission.inFlight).toBe(0);
    expect(await admission.run(async () => "next")).toBe("next");
  });

  it("drops a waiting call whose caller left, and gives its turn to the next in line", async () => {
    const admission = createAdmission({ maxInFlight: 1, maxQueued: 2 }, refuse);
    const end = deferred();
    const first = admission.run(() => end.promise);
    const leaving = new AbortController();
    const left = admission.run(async () => "never runs", { signal: leaving.signal });
    const next = admission.run(async () => "next");
    leaving.abort(new Error("client went away"));
    await expect(left).rejects.toThrow("client went away");
    expect(admission.queued).toBe(1);
    end.resolve();
    await first;
    expect(await next).toBe("next");
    expect([admission.inFlight, admission.queued]).toEqual([0, 0]);
  });

  it("never runs more than maxInFlight at once, refuses only when the line is full, and starts waiting calls in arrival order", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 3 }), fc.integer({ min: 0, max: 3 }), fc.integer({ min: 1, max: 12 }), async (s, maxInFlight, maxQueued, count) => {
        const admission = createAdmission({ maxInFlight, maxQueued }, refuse);
        let running = 0;
        let most = 0;
        const startOrder: number[] = [];
        const queuedOrder: number[] = [];
        const arrivals = Array.from({ length: count }, async (_, i) => {
          await s.schedule(Promise.resolve(), `call ${i} arrives`);
          const full = admission.inFlight === maxInFlight && admission.queued === maxQueued;
          if (admission.inFlight === maxInFlight && !full) queuedOrder.push(i);
          try {
            await admission.run(async () => {
              running += 1;
              most = Math.max(most, running);
              startOrder.push(i);
              await s.schedule(Promise.resolve(), `call ${i} ends`);
              running -= 1;
            });
            expect(full, `call ${i} ran though the line was full`).toBe(false);
          } catch (error) {
            expect(error).toBeInstanceOf(Full);
            expect(full, `call ${i} was refused with room in line`).toBe(true);
          }
        });
        await s.waitFor(Promise.all(arrivals));
        expect(most).toBeLessThanOrEqual(maxInFlight);
        expect(startOrder.filter((i) => queuedOrder.includes(i))).toEqual(queuedOrder);
        expect([admission.inFlight, admission.queued]).toEqual([0, 0]);
      }),
      { numRuns: 200 },
    );
  });
});
