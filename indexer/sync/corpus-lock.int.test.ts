import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { ifLeaseFree } from "./corpus-lock.js";

const redis = new Redis(inject("redisUrl"));
afterAll(() => redis.disconnect());

/** A promise and the function that settles it. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((resolve) => (open = resolve));
  return { promise, open };
}

describe("a lease taken only when free (ifLeaseFree)", () => {
  it("runs the work when no one holds the lease, skips it at once while another holder works, and frees the lease after", async () => {
    const key = `leaseTest:${randomUUID()}`;
    const release = gate();
    const started = gate();
    const first = ifLeaseFree(redis, key, 10_000, async () => {
      started.open();
      await release.promise;
      return "first";
    });
    await started.promise;
    expect(await ifLeaseFree(redis, key, 10_000, async () => "second")).toBeUndefined();
    release.open();
    expect(await first).toBe("first");
    expect(await redis.exists(key)).toBe(0);
    expect(await ifLeaseFree(redis, key, 10_000, async () => "third")).toBe("third");
  });

  it("keeps the lease past its TTL while the work runs (renewed), and frees it when the work fails", async () => {
    const key = `leaseTest:${randomUUID()}`;
    const ttlMs = 1_500;
    const during: Array<string | undefined> = [];
    await expect(
      ifLeaseFree(redis, key, ttlMs, async () => {
        // Two TTLs pass while it works: only renewals keep the key in Redis that long.
        for (let i = 0; i < 2; i++) {
          await new Promise((resolve) => setTimeout(resolve, ttlMs));
          during.push(await ifLeaseFree(redis, key, ttlMs, async () => "intruder"));
        }
        throw new Error("the work failed");
      }),
    ).rejects.toThrow("the work failed");
    expect(during).toEqual([undefined, undefined]);
    expect(await redis.exists(key)).toBe(0);
  });
});
