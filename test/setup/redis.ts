import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { ensureRedis } from "../../src/dev/local-redis.js";

declare module "vitest" {
  export interface ProvidedContext {
    redisUrl: string;
  }
}

/**
 * Tests run against a real Redis: the one at $REDIS_URL when it answers (CI
 * starts one), otherwise a private redis-server on a free port for this run.
 */
export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), "ragops-test-redis-"));
  const wanted = process.env.REDIS_URL ?? "redis://127.0.0.1:1"; // port 1 never answers: start our own
  const redis = await ensureRedis(wanted, { dir, preferUrlPort: false });
  project.provide("redisUrl", redis.url);
  return async () => {
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
