import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureRedis, type LocalRedis } from "../src/dev/local-redis.js";
import { corpusLockKey, withCorpusLease } from "../indexer/sync/corpus-lock.js";
import { profileKey, registryPrefix } from "../indexer/sync/profile.js";
import { createChunkRegistry } from "../indexer/sync/registry.js";
import { readManifest } from "../indexer/sync/manifest.js";
import { rebuildRegistry, registryMarkerKey } from "../indexer/sync/registry-rebuild.js";
import { readRegistrySnapshot } from "../indexer/sync/registry-snapshot.js";
import { deleteDocument, indexContents, listIndexIds, putDocument, startStack, type Stack } from "./support/stack.js";
import { sectioned } from "./support/sync-fixtures.js";
import { cliRunner } from "./support/cli.js";

/**
 * Issue 15, finding 1: Redis restarted without persistence loses the chunk
 * registry; an ingest run again took the "unchanged" path, and a later delete
 * left the document's datapoints in the index. These tests FLUSHALL, so they
 * run on a Redis of their own.
 */
describe("a chunk registry Redis lost", () => {
  let redis: LocalRedis;
  let dir: string;
  const stacks: Stack[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ragops-flush-"));
    redis = await ensureRedis("redis://127.0.0.1:1", { dir, preferUrlPort: false });
  });

  afterAll(async () => {
    for (const stack of stacks) await stack.stop().catch(() => undefined);
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const stackOn = async (overrides: Record<string, unknown> = {}) => {
    const stack = await startStack({ redis: { url: redis.url, prefix: `rr${randomUUID().slice(0, 6)}` }, ...overrides });
    stacks.push(stack);
    return stack;
  };

  const flushAll = async () => {
    const client = new Redis(redis.url);
    await client.flushall();
    client.disconnect();
  };

  const chunksOf = async (stack: Stack, id: string) => (await readManifest(stack.runtime.store, profileKey(stack.config), id))?.chunks.map((c) => c.hash) ?? [];

  it("is rebuilt before the next write, so a document deleted after FLUSHALL leaves the index with all its datapoints", async () => {
    const stack = await stackOn();
    expect((await putDocument(stack.url, "manual", sectioned(1, 8))).state).toBe("completed");
    expect((await putDocument(stack.url, "faq", sectioned(2, 3))).state).toBe("completed");
    const manual = await chunksOf(stack, "manual");
    const faq = await chunksOf(stack, "faq");
    expect(manual.length).toBeGreaterThan(5);

    await flushAll();
    // The same bytes again: the "unchanged" path, no write. It must not leave the registry without the document.
    const again = await putDocument(stack.url, "manual", sectioned(1, 8));
    expect(again.result).toMatchObject({ outcome: "unchanged" });
    const deleted = await deleteDocument(stack.url, "manual");
    expect(deleted.state).toBe("completed");
    expect(deleted.result).toMatchObject({ indexRemovals: manual.length });

    const held = new Set(await listIndexIds(await stack.runtime.index()));
    expect(manual.filter((h) => held.has(h))).toEqual([]);
    expect(faq.filter((h) => !held.has(h))).toEqual([]);
    const prefix = registryPrefix(stack.config.redis.prefix, profileKey(stack.config));
    expect(JSON.parse((await stack.runtime.redis.get(registryMarkerKey(prefix))) as string)).toMatchObject({ how: "rebuilt", manifests: 2 });
    // What the registry holds now is what sync would have: the remaining document's references, and its chunks canonical.
    const registry = createChunkRegistry(stack.runtime.redis, prefix);
    expect([...(await registry.docRefs("faq"))].sort()).toEqual([...faq].sort());
    expect((await registry.signatures(faq)).size).toBe(faq.length);
    expect(new Set((await indexContents(stack)).keys())).toEqual(new Set(faq));
  });

  it("is refused, with a message that says what to run, when configured to refuse; a rebuild lets the job through", async () => {
    const stack = await stackOn({ sync: { onMissingRegistry: "refuse" }, queue: { backoffMs: 50, attempts: 1 } });
    expect((await putDocument(stack.url, "policy", sectioned(3, 4))).state).toBe("completed");
    const chunks = await chunksOf(stack, "policy");
    await flushAll();
    const refused = await deleteDocument(stack.url, "policy");
    expect(refused.state).toBe("failed");
    expect((refused as { failedReason?: string }).failedReason).toMatch(/chunk registry of profile .* is missing .*`ragops registry rebuild`/);
    expect((await stack.runtime.index().then(listIndexIds)).filter((h) => chunks.includes(h)).length).toBe(chunks.length);

    const profile = profileKey(stack.config);
    const lock = { ttlMs: stack.config.sync.lockTtlMs, waitMs: stack.config.sync.lockWaitMs };
    const rebuilt = await withCorpusLease(stack.runtime.redis, corpusLockKey(stack.config.redis.prefix, profile), lock, (lease) =>
      rebuildRegistry({ store: stack.runtime.store, redis: stack.runtime.redis, redisPrefix: stack.config.redis.prefix, profile, dedupe: stack.config.dedupe, indexes: [] }, lease),
    );
    expect(rebuilt).toMatchObject({ manifests: 1, chunks: chunks.length, canonical: chunks.length, nearDuplicates: 0, notIndexed: chunks.length });
    expect((await deleteDocument(stack.url, "policy")).state).toBe("completed");
    const held = await listIndexIds(await stack.runtime.index());
    expect(held.filter((h) => chunks.includes(h))).toEqual([]);
  });

  it("rebuilds the registry a run of syncs wrote: the same references, document metadata and indexed chunks, and links only to indexed chunks", async () => {
    const stack = await stackOn();
    await putDocument(stack.url, "a", sectioned(4, 4));
    await putDocument(stack.url, "b", sectioned(4, 4, { changed: true })); // near-copy: linked, not indexed
    await putDocument(stack.url, "c", `${sectioned(5, 2)}\n${sectioned(4, 1)}`);
    const prefix = registryPrefix(stack.config.redis.prefix, profileKey(stack.config));
    const before = await readRegistrySnapshot(stack.runtime.redis, prefix);
    expect(before.dupOf.size).toBeGreaterThan(0);

    const profile = profileKey(stack.config);
    const lock = { ttlMs: stack.config.sync.lockTtlMs, waitMs: stack.config.sync.lockWaitMs };
    const index = await stack.runtime.index();
    await withCorpusLease(stack.runtime.redis, corpusLockKey(stack.config.redis.prefix, profile), lock, (lease) =>
      rebuildRegistry({ store: stack.runtime.store, redis: stack.runtime.redis, redisPrefix: stack.config.redis.prefix, profile, dedupe: stack.config.dedupe, indexes: [index] }, lease),
    );
    const after = await readRegistrySnapshot(stack.runtime.redis, prefix);
    expect(after.docRefs).toEqual(before.docRefs);
    expect(after.refs).toEqual(before.refs);
    expect(after.docMeta).toEqual(before.docMeta);
    expect(new Set(after.canonical.keys())).toEqual(new Set(before.canonical.keys()));
    expect(after.dupOf).toEqual(before.dupOf);
    expect(after.lsh).toEqual(before.lsh);
    expect(after.dups).toEqual(before.dups);
  });

  it("is rebuilt by `ragops registry rebuild`, which says what it rebuilt", async () => {
    const stack = await stackOn();
    await putDocument(stack.url, "guide", sectioned(6, 3));
    await putDocument(stack.url, "guide-copy", sectioned(6, 3, { changed: true }));
    await flushAll();
    const cli = cliRunner({ ...process.env, RAGOPS_DATA_DIR: stack.config.dataDir, REDIS_URL: stack.config.redis.url, RAGOPS_REDIS_PREFIX: stack.config.redis.prefix });
    const run = await cli("registry", "rebuild", "--json");
    expect(run.status, run.err).toBe(0);
    const [rebuilt] = JSON.parse(run.out) as Array<Record<string, number | string>>;
    const chunks = (await chunksOf(stack, "guide")).length;
    expect(rebuilt).toMatchObject({ profile: profileKey(stack.config), manifests: 2, chunks: 2 * chunks, canonical: chunks, nearDuplicates: chunks, notIndexed: 0, chunkStoreEntries: chunks });
    const table = await cli("registry", "rebuild");
    expect(table.status, table.err).toBe(0);
    expect(table.out).toMatch(/manifests.*chunks.*indexed.*near-duplicates/);
  });
});
