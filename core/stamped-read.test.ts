import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { stampedRead } from "./stamped-read.js";

/** Drives a fast-check scheduler until `all` settles (tasks are scheduled a few promise hops after others resolve). */
async function runUntilSettled(s: fc.Scheduler, all: Promise<unknown>): Promise<void> {
  let settled = false;
  void all.finally(() => (settled = true)).catch(() => undefined);
  for (let round = 0; !settled; round++) {
    if (round > 200) throw new Error(`still waiting after ${round} rounds`);
    await s.waitAll();
    await new Promise((resolve) => setImmediate(resolve));
  }
}

describe("stampedRead", () => {
  it("answers every caller with a value at least as new as every write announced before it asked, for any interleaving of writes, announcements, stamp reads and reads", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 4 }), async (s, callers, writes) => {
        // The table: a version every write moves; the stamp: a token replaced after each write commits.
        let version = 0;
        let token = 0;
        let announced = 0;
        const read = stampedRead({
          // A GET or a listing answers with what holds when it completes, not when it was sent.
          stamp: () => s.schedule(Promise.resolve(), "stamp").then(() => `t${token}`),
          read: () => s.schedule(Promise.resolve(), "read").then(() => version),
          recheckMs: 60_000,
          now: () => 0,
        });
        const writers = Array.from({ length: writes }, (_, i) =>
          s
            .schedule(Promise.resolve(), `commit ${i}`)
            .then(() => (version += 1))
            .then((committed) => s.schedule(Promise.resolve(), `announce ${i}`).then(() => ((token += 1), (announced = Math.max(announced, committed))))),
        );
        const answers = Array.from({ length: callers }, (_, i) =>
          s.schedule(Promise.resolve(), `caller ${i}`).then(async () => {
            const announcedBefore = announced;
            return { announcedBefore, got: await read() };
          }),
        );
        const all = Promise.all([...writers, ...answers]);
        await runUntilSettled(s, all);
        for (const { announcedBefore, got } of await Promise.all(answers)) expect(got).toBeGreaterThanOrEqual(announcedBefore);
      }),
      { numRuns: 300 },
    );
  });

  it("reads once while the stamp stays and the recheck has not passed", async () => {
    let reads = 0;
    const read = stampedRead({ stamp: async () => "same", read: async () => (reads += 1), recheckMs: 1_000, now: () => 0 });
    for (let i = 0; i < 5; i++) expect(await read()).toBe(1);
    expect(reads).toBe(1);
  });

  it("reads again when the stamp moved", async () => {
    let token = "a";
    let reads = 0;
    const read = stampedRead({ stamp: async () => token, read: async () => (reads += 1), recheckMs: 1_000, now: () => 0 });
    expect(await read()).toBe(1);
    token = "b";
    expect(await read()).toBe(2);
    expect(await read()).toBe(2);
  });

  it("reads again once recheckMs has passed, though the stamp did not move (a write whose announcement was lost)", async () => {
    let clock = 0;
    let reads = 0;
    const read = stampedRead({ stamp: async () => "same", read: async () => (reads += 1), recheckMs: 1_000, now: () => clock });
    expect(await read()).toBe(1);
    clock = 999;
    expect(await read()).toBe(1);
    clock = 1_000;
    expect(await read()).toBe(2);
  });

  it("reads on every call while the stamp cannot be read, and with recheckMs 0", async () => {
    let reads = 0;
    const unreadable = stampedRead({ stamp: () => Promise.reject(new Error("redis down")), read: async () => (reads += 1), recheckMs: 1_000, now: () => 0 });
    await unreadable();
    await unreadable();
    expect(reads).toBe(2);
    const never = stampedRead({ stamp: async () => "same", read: async () => (reads += 1), recheckMs: 0, now: () => 0 });
    await never();
    await never();
    expect(reads).toBe(4);
  });
});
