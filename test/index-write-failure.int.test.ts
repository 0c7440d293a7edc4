import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bandKeys, minhash } from "../ingest/dedupe/minhash.js";
import { createChunkStore } from "../indexer/sync/chunk-store.js";
import { createCommitter } from "../indexer/sync/commit-group.js";
import { corpusLockKey } from "../indexer/sync/corpus-lock.js";
import type { DocumentManifest } from "../indexer/sync/manifest.js";
import { registryPrefix } from "../indexer/sync/profile.js";
import { createChunkRegistry, type ChunkRegistry } from "../indexer/sync/registry.js";
import { syncDocument, type SyncDeps } from "../indexer/sync/sync-document.js";
import { openRuntime, type Runtime } from "../src/runtime.js";
import { testConfig } from "./support/stack.js";
import { failingWrites, jobSyncDeps, manifestOf, sectioned } from "./support/sync-fixtures.js";

/**
 * Issue 15, finding 2: canonical claims (signatures, LSH buckets), chunk
 * store entries and references written before an index write that failed
 * for good stayed, and a near-copy ingested later was linked to chunks no
 * index held: its ingest said success and its passages could not be found.
 */
describe("an index write that fails for good", () => {
  let runtime: Runtime;
  let profile: string;
  let registry: ChunkRegistry;

  beforeAll(async () => {
    runtime = await openRuntime(testConfig());
    ({ profile } = await jobSyncDeps(runtime));
    registry = createChunkRegistry(runtime.redis, registryPrefix(runtime.config.redis.prefix, profile));
  });

  afterAll(async () => {
    await runtime?.close();
    if (runtime) rmSync(runtime.config.dataDir, { recursive: true, force: true });
  });

  const sync = (deps: SyncDeps, manifest: DocumentManifest, onIndexing?: () => void) =>
    syncDocument(deps, { documentId: manifest.documentId, next: manifest, isCurrent: async () => true, onProgress: async (p) => void (p.stage === "indexing" && onIndexing?.()) });
  const hashesOf = (manifest: DocumentManifest) => manifest.chunks.map((c) => c.hash);

  /** Whatever the registry and the chunk store say of these chunks that would make a later near-copy a duplicate of them. */
  async function claimsOn(manifest: DocumentManifest) {
    const hashes = hashesOf(manifest);
    const { dedupe } = runtime.config;
    const bands = manifest.chunks.map((c) => bandKeys(minhash(c.text, { permutations: dedupe.permutations, shingleWords: dedupe.shingleWords, bands: dedupe.bands }), dedupe.bands));
    const inBuckets = new Set((await registry.candidatesMany(bands)).flatMap((set) => [...set]));
    return {
      signatures: (await registry.signatures(hashes)).size,
      inLshBuckets: hashes.filter((h) => inBuckets.has(h)).length,
      chunkStoreEntries: (await createChunkStore(runtime.redis, registryPrefix(runtime.config.redis.prefix, profile)).get(hashes)).size,
      references: [...(await registry.refs(hashes)).values()].filter((docs) => docs.size > 0).length,
    };
  }

  it("leaves no claim that the document's chunks are indexed, so a later near-copy is indexed itself", async () => {
    const { deps: broken } = await jobSyncDeps(runtime, (index) => failingWrites(index));
    const { deps, versions } = await jobSyncDeps(runtime);
    const original = manifestOf(runtime.config, profile, "original", sectioned(1, 6));
    const nearCopy = manifestOf(runtime.config, profile, "near-copy", sectioned(1, 6, { changed: true }));
    expect(hashesOf(nearCopy).filter((h) => hashesOf(original).includes(h))).toEqual([]);

    await expect(sync(broken, original)).rejects.toThrow("index unavailable");
    expect(await claimsOn(original)).toEqual({ signatures: 0, inLshBuckets: 0, chunkStoreEntries: 0, references: 0 });

    const counts = await sync(deps, nearCopy);
    expect(counts).toMatchObject({ nearDuplicates: 0, indexWrites: nearCopy.chunks.length });
    const index = (versions[0] as { index: { fetch(ids: readonly string[]): Promise<Map<string, unknown>> } }).index;
    expect((await index.fetch(hashesOf(nearCopy))).size).toBe(nearCopy.chunks.length);
  });

  it("fails every document of a commit group whose index write failed, and none of them keeps a claim", async () => {
    const committer = createCommitter({ maxGroup: 10 });
    const { deps: broken } = await jobSyncDeps(runtime, (index) => failingWrites(index));
    const grouped = { ...broken, committer };
    const manifests = [2, 3, 4].map((seed) => manifestOf(runtime.config, profile, `grouped-${seed}`, sectioned(seed, 3)));
    // The three wait behind a commit holding the lease, so they take it together as one group.
    const lockKey = corpusLockKey(runtime.config.redis.prefix, profile);
    let waiting = 0;
    let allWaiting!: () => void;
    const queued = new Promise<void>((resolve) => (allWaiting = resolve));
    const blocker = committer.commit({ redis: runtime.redis, lockKey, lockOptions: { ttlMs: 5_000, waitMs: 5_000 } }, () => queued);
    // A sync reports "indexing" right before it asks the committer for the lease.
    const syncs = manifests.map((m) => sync(grouped, m, () => void (++waiting === manifests.length && allWaiting())));
    await blocker;
    const outcomes = await Promise.allSettled(syncs);
    expect(outcomes.map((o) => o.status)).toEqual(["rejected", "rejected", "rejected"]);
    for (const m of manifests) expect(await claimsOn(m)).toEqual({ signatures: 0, inLshBuckets: 0, chunkStoreEntries: 0, references: 0 });
  });

  it("claims a chunk again when an index holds it but the registry lost its claim, so no near-copy is linked to the chunk and its datapoint left behind", async () => {
    const { deps } = await jobSyncDeps(runtime);
    const original = manifestOf(runtime.config, profile, "claimed-again", sectioned(5, 4));
    // The claims are lost after the index write (a crash between the two): the datapoints are in the index, no claim in the registry.
    const lostClaims: SyncDeps = { ...deps, registry: { ...deps.registry, markCanonicalMany: async () => Promise.reject(new Error("Redis went away")) } };
    await expect(sync(lostClaims, original)).rejects.toThrow("Redis went away");
    expect((await claimsOn(original)).signatures).toBe(0);

    const counts = await sync(deps, original);
    expect(counts).toMatchObject({ indexWrites: 0, nearDuplicates: 0 });
    expect((await claimsOn(original)).signatures).toBe(original.chunks.length);
    const nearCopy = manifestOf(runtime.config, profile, "claimed-again-copy", sectioned(5, 4, { changed: true }));
    expect((await sync(deps, nearCopy)) as { nearDuplicates: number }).toMatchObject({ nearDuplicates: nearCopy.chunks.length });
  });
});
