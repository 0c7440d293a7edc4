import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { profileKey, registryPrefix } from "../indexer/sync/profile.js";
import { startWorkers } from "../src/worker/worker.js";
import { putDocument, searchApi, startStack, type Stack } from "./support/stack.js";

/** Deterministic filler prose: distinct words per seed. */
function prose(seed: number, words = 80): string {
  return Array.from({ length: words }, (_, i) => `w${seed}x${i}`).join(" ");
}

describe("a chunk store lost from Redis", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("is rebuilt from the manifests when a worker starts, so search shows every hit again", async () => {
    await putDocument(stack.url, "pump", `# Kestrel pump\n\n${prose(1)}\n\n## Service\n\n${prose(2)}\n`);
    await putDocument(stack.url, "copy", `# Kestrel pump\n\n${prose(1)}\n`);
    const query = { query: prose(1), k: 5 };
    const before = (await searchApi(stack.url, query)).body.results;
    expect(before.length).toBeGreaterThan(0);

    const key = `${registryPrefix(stack.config.redis.prefix, profileKey(stack.config))}:chunks`;
    await stack.runtime.redis.del(key);
    expect((await searchApi(stack.url, query)).body.results).toEqual([]); // what a lost chunk store costs

    const restarted = await startWorkers(stack.runtime);
    try {
      expect(await stack.runtime.redis.exists(key)).toBe(1);
      const after = (await searchApi(stack.url, query)).body.results as Array<{ score: number }>;
      // The same hits; a score may differ in its last rounded digit, as LanceDB's flat search computes in float32 and the in-memory snapshot in float64.
      expect(after.map(({ score: _, ...hit }) => hit)).toEqual((before as Array<{ score: number }>).map(({ score: _, ...hit }) => hit));
      after.forEach((hit, i) => expect(hit.score).toBeCloseTo((before[i] as { score: number }).score, 5));
    } finally {
      await restarted.close(1_000);
    }
  });

  it("is left alone when it is there", async () => {
    const key = `${registryPrefix(stack.config.redis.prefix, profileKey(stack.config))}:chunks`;
    await stack.runtime.redis.hset(key, "marker", "{}");
    const restarted = await startWorkers(stack.runtime);
    await restarted.close(1_000);
    expect(await stack.runtime.redis.hget(key, "marker")).toBe("{}");
    await stack.runtime.redis.hdel(key, "marker");
  });
});
