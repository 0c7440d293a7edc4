import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { corpusLockKey, withCorpusLease } from "../../indexer/sync/corpus-lock.js";
import { profileKey } from "../../indexer/sync/profile.js";
import { rebuildRegistry } from "../../indexer/sync/registry-rebuild.js";
import { ensureRedis, type LocalRedis } from "../../src/dev/local-redis.js";
import { deleteDocument, putDocument, searchApi, startStack, type Stack } from "../support/stack.js";
import { sectioned } from "../support/sync-fixtures.js";
import { allTerminal, corpusDamage, expectReconcileClean } from "./corpus.js";
import { recordTally } from "./tally.js";

/**
 * Redis restarted without persistence, mid-corpus: everything it held is
 * gone (FLUSHALL on a redis-server of this file's own). Once with
 * `registry rebuild` run after it, once leaving the rebuild to the next write.
 */
describe("Redis losing everything mid-corpus", () => {
  let redis: LocalRedis;
  let dir: string;
  const stacks: Stack[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ragops-fault-flush-"));
    redis = await ensureRedis("redis://127.0.0.1:1", { dir, preferUrlPort: false });
  });

  afterAll(async () => {
    for (const stack of stacks) await stack.stop().catch(() => undefined);
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const flushAll = async () => {
    const client = new Redis(redis.url);
    await client.flushall();
    client.disconnect();
  };

  const registryRebuild = async (stack: Stack) => {
    const { config, runtime } = stack;
    const profile = profileKey(config);
    const lock = { ttlMs: config.sync.lockTtlMs, waitMs: config.sync.lockWaitMs };
    const index = await runtime.index();
    return withCorpusLease(runtime.redis, corpusLockKey(config.redis.prefix, profile), lock, (lease) =>
      rebuildRegistry({ store: runtime.store, redis: runtime.redis, redisPrefix: config.redis.prefix, profile, dedupe: config.dedupe, indexes: [index] }, lease),
    );
  };

  it.each([
    ["then `registry rebuild`", true],
    ["rebuilt by the next write", false],
  ] as const)("keeps every document and nothing twice: %s", async (how, rebuild) => {
    const stack = await startStack({ redis: { url: redis.url, prefix: `rf${randomUUID().slice(0, 6)}` } });
    stacks.push(stack);
    const ids = ["manual", "faq", "policy", "guide"];
    expect((await putDocument(stack.url, "manual", sectioned(70, 5))).state).toBe("completed");
    expect((await putDocument(stack.url, "faq", sectioned(71, 3))).state).toBe("completed");

    await flushAll();
    if (rebuild) expect(await registryRebuild(stack)).toMatchObject({ manifests: 2 });

    // The corpus goes on: an unchanged re-upload, a replace, a delete, a new document.
    expect((await putDocument(stack.url, "faq", sectioned(71, 3))).result).toMatchObject({ outcome: "unchanged" });
    expect((await putDocument(stack.url, "manual", sectioned(72, 4))).state).toBe("completed");
    expect((await putDocument(stack.url, "policy", sectioned(73, 3))).state).toBe("completed");
    expect((await deleteDocument(stack.url, "faq")).state).toBe("completed");
    expect((await putDocument(stack.url, "guide", sectioned(74, 2))).state).toBe("completed");

    expect(await allTerminal(stack.runtime, ids)).toEqual({ manual: "indexed", faq: "deleted", policy: "indexed", guide: "indexed" });
    await expectReconcileClean(stack.runtime);
    const { status, body } = await searchApi(stack.url, { query: sectioned(72, 4).split("\n\n")[2] ?? "", k: 1 });
    expect(status).toBe(200);
    expect(body.results[0]?.documentId).toBe("manual");
    const damage = await corpusDamage(stack.runtime);
    recordTally({ scenario: `Redis flushed, ${how}`, faults: 1, recoveries: 1, ...damage });
    expect(damage).toEqual({ lost: 0, duplicates: 0 });
  });
});
