import type { Redis } from "ioredis";
import type { Config } from "../../config/schema.js";
import type { EmbeddingCache } from "../embedding-cache.js";
import type { Embedder } from "../embedders/embedder.js";
import type { VectorIndex } from "../indexes/vector-index.js";
import type { Bm25Params } from "../sparse/bm25.js";
import type { ChunkStore } from "./chunk-store.js";
import type { Logger } from "../../core/logger.js";
import type { JobProgress } from "./progress.js";
import { writeJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { createPause, inSlices } from "../../core/yield.js";
import { classifyChunks } from "./classify.js";
import { commitAlone, type CommitSession, type Committer } from "./commit-group.js";
import { corpusLockKey, type CorpusLease } from "./corpus-lock.js";
import { diffChunks, type ChunkDiff } from "./diff.js";
import { embedAhead } from "./embed-ahead.js";
import { upsertMissing } from "./index-writes.js";
import { manifestKey, type DocumentManifest } from "./manifest.js";
import { refreshMetadata } from "./metadata.js";
import type { ChunkRegistry } from "./registry.js";
import { ensureRegistry, type RegistryGuardDeps } from "./registry-rebuild.js";
import { onlyMine, releaseRemoved } from "./release.js";
import { SLICE, type SyncContext } from "./sync-context.js";

/**
 * Moves one document of the corpus from the chunks it had to the chunks it
 * has now (or to none, for a delete): references, near-duplicate links, index
 * datapoints, chunk store entries, manifest. Only chunks the index lacks are
 * embedded (and only those the embedding cache lacks call the embedder); only
 * chunks whose restricts or shown fields really change are written.
 *
 * Every step can be repeated: references are sets, datapoint ids are content
 * hashes, index membership is read from the index itself, and a chunk leaves
 * the document's reference set only after the index no longer needs it. A job
 * killed anywhere and retried ends where a clean run would.
 *
 * The steps: embed ahead (before the lock) → under the lock: add references
 * → classify (canonical or near-duplicate) and write what the targets lack
 * (classify.ts, index-writes.ts) → release removed chunks, promoting heirs
 * (release.ts) → refresh restricts and entries of touched chunks
 * (metadata.ts) → write the manifest.
 */

/** What a sync does with an index: read which chunks it holds, and write. */
export type SyncIndex = Pick<VectorIndex, "fetch" | "upsert" | "updateRestricts" | "remove">;

/** One index version that follows this chunking profile: its index, and the embedder (with its cache) that fills it. */
export interface SyncTarget {
  version: string;
  index: SyncIndex;
  embedder: Embedder;
  cache: EmbeddingCache;
  /** BM25 parameters of the sparse vectors its datapoints hold; absent: the version retrieves dense only and gets none. */
  sparse?: Bm25Params;
}

export interface SyncDeps {
  store: ObjectStore;
  redis: Redis;
  registry: ChunkRegistry;
  /** What searches show of each indexed chunk of this profile. */
  chunks: ChunkStore;
  /** Every index version of this profile that follows the corpus; registry decisions are shared, index writes go to each. */
  targets: readonly SyncTarget[];
  profile: string;
  config: Pick<Config, "dedupe" | "embedder" | "sync" | "redis">;
  logger: Logger;
  /** Groups the process's documents under one corpus lease (commit-group.ts); each alone when absent. */
  committer?: Committer;
  /** Every index following this profile (the targets may be fewer: a build writes only its own); read when the registry must be rebuilt. The targets' when absent. */
  followers?: () => Promise<ReadonlyArray<Pick<VectorIndex, "fetch">>>;
}

export interface SyncCounts {
  chunks: number;
  unchanged: number;
  added: number;
  removed: number;
  /** Texts sent to the embedder. */
  embedded: number;
  cacheHits: number;
  /** Datapoints upserted (new vectors). */
  indexWrites: number;
  /** Datapoints whose restricts or chunk store entry changed (no new vector). */
  metadataWrites: number;
  indexRemovals: number;
  /** Chunks of this document that are near-duplicates of an indexed chunk, so not indexed themselves. */
  nearDuplicates: number;
  /** Near-duplicates indexed because the chunk they duplicated lost its last reference. */
  promoted: number;
}

export interface SyncRequest {
  documentId: string;
  /** The document's new state; null deletes it. */
  next: DocumentManifest | null;
  /** Checked under the corpus lock: false means a newer version took over, and nothing is written. */
  isCurrent: () => Promise<boolean>;
  onProgress?: (progress: JobProgress) => Promise<void>;
}

export const emptyCounts = (): SyncCounts => ({
  chunks: 0,
  unchanged: 0,
  added: 0,
  removed: 0,
  embedded: 0,
  cacheHits: 0,
  indexWrites: 0,
  metadataWrites: 0,
  indexRemovals: 0,
  nearDuplicates: 0,
  promoted: 0,
});

export function addCounts(total: SyncCounts, more: SyncCounts): SyncCounts {
  const out = { ...total };
  for (const key of Object.keys(out) as Array<keyof SyncCounts>) out[key] += more[key];
  return out;
}

/** Chunks, unchanged, added and removed, from the document's diff (the diff partitions its chunks into unchanged and added). Pure. */
export function diffCounts(diff: ChunkDiff): Pick<SyncCounts, "chunks" | "unchanged" | "added" | "removed"> {
  return { chunks: diff.added.length + diff.unchanged.length, unchanged: diff.unchanged.length, added: diff.added.length, removed: diff.removed.length };
}

export async function syncDocument(deps: SyncDeps, request: SyncRequest): Promise<SyncCounts | "stale"> {
  const ctx = createContext(deps, request.documentId, request.next);
  const hashes = [...ctx.byHash.keys()];
  // Before the lock: embed what will most likely need a vector, so the slow part does not hold other jobs up.
  await embedAhead(ctx, hashes, request.onProgress);
  await request.onProgress?.({ stage: "indexing", percent: 85 });
  const { config } = deps;
  const lockOptions = { ttlMs: config.sync.lockTtlMs, waitMs: config.sync.lockWaitMs };
  const committer = deps.committer ?? commitAlone;
  const prepare = (lease: CorpusLease) => ensureRegistry(registryGuard(deps), lease).then(() => undefined);
  return committer.commit({ redis: deps.redis, lockKey: corpusLockKey(config.redis.prefix, deps.profile), lockOptions, prepare }, async (session) => {
    if (!(await request.isCurrent())) return "stale" as const;
    ctx.lease = session.lease;
    ctx.session = session;
    // Under the lease the indexes are the group's: new datapoints wait for the group's one write.
    // And the registry is the group's: canonical claims are written only once an index holds their chunks.
    ctx.deps = { ...deps, registry: session.registry(deps.registry, deps.chunks), targets: deps.targets.map((t) => ({ ...t, index: session.index(t.version, t.index as VectorIndex) })) };
    return syncUnderLease(ctx, hashes);
  }, deps.targets.map((t) => ({ version: t.version, index: t.index as VectorIndex, ids: hashes })));
}

/** The registry check of a commit group (registry-rebuild.ts). */
function registryGuard(deps: SyncDeps): RegistryGuardDeps {
  return {
    store: deps.store,
    redis: deps.redis,
    redisPrefix: deps.config.redis.prefix,
    profile: deps.profile,
    dedupe: deps.config.dedupe,
    indexes: deps.followers ?? (async () => deps.targets.map((t) => t.index)),
    onMissing: deps.config.sync.onMissingRegistry,
    logger: deps.logger,
  };
}

function createContext(deps: SyncDeps, documentId: string, next: DocumentManifest | null): SyncContext {
  const { dedupe } = deps.config;
  return {
    deps,
    d: documentId,
    next,
    byHash: new Map((next?.chunks ?? []).map((c) => [c.hash, c])),
    vectors: new Map(deps.targets.map((t) => [t.version, new Map<string, Float32Array>()])),
    counts: emptyCounts(),
    minhash: { permutations: dedupe.permutations, shingleWords: dedupe.shingleWords, bands: dedupe.bands },
    manifests: new Map(),
    signatures: new Map(),
    terms: new Map(),
    pause: createPause(),
  };
}

/** The writes, in the order that makes a job killed anywhere end, on retry, where a clean run would. */
async function syncUnderLease(ctx: SyncContext, hashes: readonly string[]): Promise<SyncCounts> {
  const diff = diffChunks(await ctx.deps.registry.docRefs(ctx.d), hashes);
  Object.assign(ctx.counts, diffCounts(diff));
  const leaving = await onlyMine(ctx, diff.removed);
  const touched = new Set<string>(); // indexed chunks whose restricts or entry may have changed
  await addReferences(ctx, hashes);
  // 1. Every chunk of the document is canonical (indexed in every target) or a near-duplicate of a canonical chunk.
  await upsertMissing(ctx, await classifyChunks(ctx, leaving, touched));
  // 2. Chunks the document no longer has: its reference goes, and the datapoint when nobody else needs it.
  await releaseRemoved(ctx, diff.removed, touched);
  // 3. Restricts and chunk store entries of indexed chunks that gained or lost this document.
  await inSlices([...touched], SLICE, (slice) => refreshMetadata(ctx, slice));
  await writeManifest(ctx);
  return ctx.counts;
}

/** The document's tags and content type (for restricts), and its reference to each of its chunks. */
async function addReferences(ctx: SyncContext, hashes: readonly string[]): Promise<void> {
  const { registry } = ctx.deps;
  const lease = ctx.lease as CorpusLease;
  if (ctx.next) await registry.setDocMeta(lease, ctx.d, { tags: ctx.next.tags, contentType: ctx.next.contentType });
  await inSlices(hashes, SLICE, (slice) => registry.addRefs(lease, ctx.d, slice));
}

/** Last, after the group's index writes: the document's manifest, or for a delete its removal and that of its tags and content type. */
async function writeManifest(ctx: SyncContext): Promise<void> {
  const { deps } = ctx;
  const session = ctx.session as CommitSession;
  const next = ctx.next;
  const key = manifestKey(deps.profile, ctx.d);
  if (next) {
    session.deferManifest(ctx.d, next, async () => {
      await writeJson(deps.store, key, next);
    });
    return;
  }
  session.deferManifest(ctx.d, null, async () => {
    await deps.store.delete(key);
    await deps.registry.setDocMeta(session.lease, ctx.d, undefined);
  });
}
