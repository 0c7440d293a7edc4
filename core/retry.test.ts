import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { backoffDelay, withRetries, type RetryPolicy } from "./retry.js";

const policy: RetryPolicy = { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 1_000 };

class Transient extends Error {}
class Permanent extends Error {}

/** Runs withRetries with a sleep that records its delays and returns at once. */
async function run<T>(attempt: (n: number) => Promise<T>, random = () => 0.5) {
  const delays: number[] = [];
  const calls: number[] = [];
  const result = withRetries(
    (n) => {
      calls.push(n);
      return attempt(n);
    },
    { ...policy, isRetryable: (error) => error instanceof Transient, random, sleep: async (ms) => void delays.push(ms) },
  );
  return { result, delays, calls };
}

describe("backoffDelay", () => {
  it("stays within [0, min(maxDelayMs, baseDelayMs × 2^(retry − 1))] for any draw (full jitter)", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 60 }), fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }), (retry, draw) => {
        const delay = backoffDelay(retry, policy, () => draw);
        expect(delay).toBeGreaterThanOrEqual(0);
        expect(delay).toBeLessThanOrEqual(Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (retry - 1)));
      }),
    );
  });

  it("doubles its ceiling per retry up to the cap", () => {
    const top = () => 0.999999;
    expect([1, 2, 3, 4, 5].map((retry) => Math.round(backoffDelay(retry, policy, top)))).toEqual([100, 200, 400, 800, 1_000]);
  });
});

describe("withRetries", () => {
  it("returns the first success, retrying retryable failures with backoff in between", async () => {
    const { result, delays, calls } = await run(async (n) => {
      if (n < 3) throw new Transient(`attempt ${n}`);
      return "ok";
    });
    expect(await result).toBe("ok");
    expect(calls).toEqual([1, 2, 3]);
    expect(delays).toEqual([50, 100]);
  });

  it("throws the last failure once maxAttempts attempts have failed", async () => {
    const { result, calls, delays } = await run(async (n) => {
      throw new Transient(`attempt ${n}`);
    });
    await expect(result).rejects.toThrow("attempt 4");
    expect(calls).toEqual([1, 2, 3, 4]);
    expect(delays).toHaveLength(3);
  });

  it("throws a failure that is not retryable at once", async () => {
    const { result, calls, delays } = await run(async () => {
      throw new Permanent("bad request");
    });
    await expect(result).rejects.toThrow("bad request");
    expect(calls).toEqual([1]);
    expect(delays).toEqual([]);
  });

  it("tells onRetry what failed, which attempt and how long it waits", async () => {
    const seen: string[] = [];
    await withRetries(
      async (n) => {
        if (n === 1) throw new Transient("busy");
      },
      { ...policy, isRetryable: () => true, random: () => 0.5, sleep: async () => undefined, onRetry: (error, attempt, delayMs) => void seen.push(`${(error as Error).message} ${attempt} ${delayMs}`) },
    );
    expect(seen).toEqual(["busy 1 50"]);
  });
});
