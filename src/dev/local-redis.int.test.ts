import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { ensureRedis } from "./local-redis.js";

const dir = () => mkdtempSync(join(tmpdir(), "ragops-redis-"));

describe("ensureRedis", () => {
  it("uses a Redis that already answers and leaves it running", async () => {
    const redis = await ensureRedis(inject("redisUrl"), { dir: dir() });
    expect(redis).toMatchObject({ url: inject("redisUrl"), started: false });
  });

  it("starts a private redis-server when none answers, and stops it", async () => {
    const redis = await ensureRedis("redis://127.0.0.1:1", { dir: dir(), preferUrlPort: false });
    expect(redis.started).toBe(true);
    expect(redis.url).not.toBe("redis://127.0.0.1:1");
    await redis.stop();
    const again = await ensureRedis(redis.url, { dir: dir(), searchPath: "/nonexistent" }).catch((error: Error) => error);
    expect(again).toBeInstanceOf(Error); // nothing answers there any more
  });

  it("says how to install redis-server when it is not installed", async () => {
    await expect(ensureRedis("redis://127.0.0.1:1", { dir: dir(), searchPath: "/nonexistent" })).rejects.toThrow(/apt-get install -y redis-server/);
  });

  it("does not start a server for a Redis on another host", async () => {
    await expect(ensureRedis("redis://10.255.255.1:6379", { dir: dir() })).rejects.toThrow(/not on this machine/);
  });
});
