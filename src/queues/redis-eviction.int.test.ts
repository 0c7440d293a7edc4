import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureRedis, type LocalRedis } from "../dev/local-redis.js";
import { cliRunner } from "../../test/support/cli.js";
import { evictionProblem } from "./redis.js";

// A Redis of its own: the policy is server-wide, and test files run side by side on the shared one.
let server: LocalRedis;
let redis: Redis;
let dir: string;
beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), "ragops-eviction-"));
  server = await ensureRedis("redis://127.0.0.1:1", { dir, preferUrlPort: false });
  redis = new Redis(server.url);
});
afterAll(async () => {
  await redis.quit();
  await server.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe("the Redis eviction policy check", () => {
  it("is quiet under noeviction and names the policy and the fix under any other", async () => {
    await redis.config("SET", "maxmemory-policy", "noeviction");
    expect(await evictionProblem(redis)).toBeUndefined();
    await redis.config("SET", "maxmemory-policy", "allkeys-lru");
    expect(await evictionProblem(redis)).toMatch(/maxmemory-policy allkeys-lru.*Set maxmemory-policy noeviction/);
  });
});

describe("ragops worker --strict", () => {
  it("refuses to start on a Redis that may evict, naming the policy and the fix, and exits non-zero", async () => {
    await redis.config("SET", "maxmemory-policy", "allkeys-lru");
    const run = cliRunner({ ...process.env, RAGOPS_DATA_DIR: mkdtempSync(join(tmpdir(), "ragops-strict-")), RAGOPS_REDIS_PREFIX: "strict" });
    const refused = await run("--redis-url", server.url, "worker", "--strict");
    expect(refused.status).not.toBe(0);
    expect(refused.err).toMatch(/maxmemory-policy allkeys-lru.*refuses to start \(redis\.requireNoEviction, ragops worker --strict\)/s);
    await redis.config("SET", "maxmemory-policy", "noeviction");
  });
});
