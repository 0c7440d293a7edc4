import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import { evictionProblem } from "./redis.js";

const redis = new Redis(inject("redisUrl"));
afterAll(() => redis.quit());

describe("the Redis eviction policy check", () => {
  it("is quiet under noeviction and names the policy and the fix under any other", async () => {
    const [, before] = (await redis.config("GET", "maxmemory-policy")) as [string, string];
    try {
      await redis.config("SET", "maxmemory-policy", "noeviction");
      expect(await evictionProblem(redis)).toBeUndefined();
      await redis.config("SET", "maxmemory-policy", "allkeys-lru");
      expect(await evictionProblem(redis)).toMatch(/maxmemory-policy allkeys-lru.*Set maxmemory-policy noeviction/);
    } finally {
      await redis.config("SET", "maxmemory-policy", before);
    }
  });
});
