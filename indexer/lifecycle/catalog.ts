import type { Config, EmbedderConfig } from "../../config/schema.js";
import { createEmbeddingCache, embedderKey, type EmbeddingCache } from "../embedding-cache.js";
import { createEmbedder, type Embedder } from "../embedders/index.js";
import { openVectorIndex, type VectorIndex } from "../indexes/index.js";
import { withEmbedLatency, withIndexWriteLatency } from "../simulated-latency.js";
import { flushAliasJournal, readAlias, swapLive, type AliasRecord } from "./alias.js";
import { appendAudit } from "./audit.js";
import { createVersion, getVersion, listVersions, moveVersion, needsSparse, versionIndex, versionRetrieval, type IndexVersion } from "./versions.js";
import { createChangeSignal, createTokenSignal, tableWritesKey, type ChangeSignal } from "./change-signal.js";
import { createServing, liveName, refuseRetired, refuseUnservableLive } from "./serving.js";
import { ConflictError } from "../../core/errors.js";
import { vectorSearchClients, type ClientsHandle } from "../indexes/vertex-clients.js";
import { vertexOperations } from "../indexes/vertex-operations.js";
import { vectorSearchEndpointConfig, vertexCallSettings } from "../indexes/vertex-settings.js";
import { operationPolicy } from "../indexes/vertex.js";
import { createRedisTermStats } from "../indexes/term-stats.js";
import { provisionVertexIndex, teardownVertexIndex, type ResourceProgress, type VertexResourceDeps } from "./vertex-resources.js";
import type { ObjectStore } from "../../core/object-store.js";
import type { Redis } from "ioredis";
import type { TableLease } from "../indexes/lancedb.js";
import { ifLeaseFree } from "../sync/corpus-lock.js";
import type { ParsePool } from "../../ingest/parsers/isolated.js";
import type { Logger } from "../../core/logger.js";
import { profileKey, registryPrefix } from "../sync/profile.js";
import { createChunkRegistry } from "../sync/registry.js";
import { createChunkStore } from "../sync/chunk-store.js";
import type { SyncDeps, SyncTarget } from "../sync/sync-document.js";
import type { Committer } from "../sync/commit-group.js";

/** A table maintenance lease lapses this long after its holder died (it is renewed while held, through a build of many minutes). */
const TABLE_LEASE_TTL_MS = 60_000;

/**
 * The index versions a process works with, opened on demand: each version's
 * embedder, embedding cache and index, and the chunking profile it follows.
 */
export interface OpenVersion {
  record: IndexVersion;
  profile: string;
  embedder: Embedder;
  cache: EmbeddingCache;
  index: VectorIndex;
}

export interface VersionCatalog {
  /** Versions that follow the corpus: every one not retired or failed (a version being built included). */
  following(): Promise<OpenVersion[]>;
  /** One version by name; a retired version is refused. */
  open(version: string): Promise<OpenVersion>;
  /** The alias, read once, and the version it makes live; a live version that cannot serve (retired, failed) is an UnavailableError. */
  live(): Promise<{ alias: AliasRecord; version: OpenVersion }>;
  /**
   * What a search answers from: the live version, or the one named, refused
   * as live() and open() refuse them. Held in memory and read again only
   * after an announced change or search.aliasRecheckMs (serving.ts), so the
   * steady state reads nothing from the object store.
   */
  serving(version?: string): Promise<OpenVersion>;
  /**
   * Makes the version's index exist and serve where its provider keeps it
   * outside ragops (Vertex: create the index, deploy it; long-running, and
   * resumed from the record after a restart: vertex-resources.ts); nothing for
   * LanceDB. A build does this first; until then the version follows nothing.
   */
  prepare(version: string, onProgress?: (progress: ResourceProgress) => Promise<void> | void): Promise<void>;
  /** Drops a retired version's index data and forgets it; any other version is refused. On Vertex: undeploys and deletes its index, following each operation to its end. */
  destroy(version: string, onProgress?: (progress: ResourceProgress) => Promise<void> | void): Promise<void>;
  /** The Vertex operations of a version's resources (a rebuild's batch update), for a process whose config names Vertex. */
  vertexResources(onProgress?: (progress: ResourceProgress) => Promise<void> | void): VertexResourceDeps;
  close(): Promise<void>;
}

const FOLLOWING = new Set(["building", "ready", "evaluated", "live", "previous"]);

/** Whether a version's index can be written and read now: a Vertex version only once its index is deployed (its build's first step). */
export function indexReady(record: IndexVersion): boolean {
  return versionIndex(record).provider !== "vertex" || (record.vertex?.deployed === true && record.vertex.index !== undefined);
}

/** What a catalog opens versions with: the embedding cache keeps its vectors in the store and its lookup in Redis. */
export interface CatalogDeps {
  config: Config;
  store: ObjectStore;
  redis: Redis;
  logger: Logger;
  /** Announces alias and version record changes; the one the process's store announces through (runtime.ts). Default: one on `redis`. */
  signal?: ChangeSignal;
}

export function createVersionCatalog(deps: CatalogDeps, embedderFor?: (config: EmbedderConfig) => Embedder): VersionCatalog {
  const { config, store } = deps;
  const makeEmbedder = embedderFor ?? ((embedder: EmbedderConfig) => createEmbedder(embedder, config.gcp));
  const opened = new Map<string, Promise<OpenVersion>>();
  // Versions with one embedder identity share its cache, and so its memory of recently read shards.
  const caches = new Map<string, EmbeddingCache>();
  const cacheFor = (embedder: Embedder): EmbeddingCache => {
    const key = embedderKey(embedder.identity);
    let cache = caches.get(key);
    if (!cache) {
      const lock = { ttlMs: config.sync.lockTtlMs, waitMs: config.sync.lockWaitMs };
      cache = createEmbeddingCache({ store, redis: deps.redis, redisPrefix: config.redis.prefix, logger: deps.logger, lock }, embedder.identity);
      caches.set(key, cache);
    }
    return cache;
  };
  // One set of Vector Search clients per process, shared by its Vertex versions and their operations.
  let vertexClients: ClientsHandle | undefined;
  const clientsForVertex = () => (vertexClients ??= vectorSearchClients(vectorSearchEndpointConfig(config.gcp)));
  const vertexResources = (onProgress?: (progress: ResourceProgress) => Promise<void> | void): VertexResourceDeps => ({
    store,
    gcp: config.gcp,
    operations: vertexOperations(clientsForVertex(), operationPolicy(vertexCallSettings(config.gcp))),
    ...(onProgress ? { onProgress } : {}),
  });
  // Vertex counts no document frequencies: a version holding sparse vectors keeps them in Redis (term-stats.ts).
  const vertexTermStats = (record: IndexVersion) => (needsSparse(versionRetrieval(record).mode) ? createRedisTermStats(deps.redis, config.redis.prefix, record.version) : undefined);
  // Every process writing a LanceDB table (each worker) takes turns compacting it and building its ANN index (lancedb.ts, TableLease).
  const tableLease = (version: string): TableLease => ({ run: (work) => ifLeaseFree(deps.redis, `${config.redis.prefix}:lancedb:${version}:maintenance`, TABLE_LEASE_TTL_MS, work) });
  // Each process writing a LanceDB table announces its commits; a search lists the table's versions only when one moved the stamp.
  const tableWrites = (version: string) =>
    createTokenSignal(deps.redis, tableWritesKey(config.redis.prefix, version), (error) =>
      deps.logger.warn({ err: error, version }, "could not announce a write to the version's LanceDB table in Redis; searching processes see it at their next recheck (search.aliasRecheckMs)"),
    );
  const openRecord = (record: IndexVersion): Promise<OpenVersion> => {
    let found = opened.get(record.version);
    if (!found) {
      found = (async () => {
        // Latency simulated for benchmarks (config.simulate) sits in front of the adapters; 0 leaves them as made.
        const embedder = withEmbedLatency(makeEmbedder(record.config.embedder), config.simulate.embedLatencyMs);
        const provider = versionIndex(record);
        const vertex = provider.provider === "vertex" ? { gcp: config.gcp, vertex: record.vertex, vertexClients: clientsForVertex(), termStats: vertexTermStats(record) } : {};
        const opened = await openVectorIndex(provider, { dataDir: config.dataDir, version: record.version, dimensions: embedder.identity.dimensions, memoryScanMaxRows: config.index.memoryScanMaxRows, ann: { minRows: config.index.annMinRows, ef: config.index.annEf }, fullTextMinRows: config.index.fullTextMinRows, rowLineage: config.index.rowLineage, maintenanceLease: tableLease(record.version), writeSignal: tableWrites(record.version), versionRecheckMs: config.search.aliasRecheckMs, ...vertex });
        const index = withIndexWriteLatency(opened, config.simulate.indexWriteLatencyMs);
        return { record, profile: profileKey(record.config), embedder, cache: cacheFor(embedder), index };
      })();
      found.catch(() => opened.delete(record.version));
      opened.set(record.version, found);
    }
    // The record changes (state, counts); the opened adapters do not.
    return found.then((v) => ({ ...v, record }));
  };
  const serving = createServing({ store, signal: deps.signal ?? createChangeSignal(deps.redis, config.redis.prefix, deps.logger), recheckMs: config.search.aliasRecheckMs });
  return {
    following: async () => Promise.all((await listVersions(store)).filter((v) => FOLLOWING.has(v.state) && indexReady(v)).map(openRecord)),
    open: async (version) => {
      const record = await getVersion(store, version);
      refuseRetired(record);
      return openRecord(record);
    },
    live: async () => {
      const { alias } = await readAlias(store);
      const record = await getVersion(store, liveName(alias));
      refuseUnservableLive(record, alias);
      return { alias, version: await openRecord(record) };
    },
    serving: async (version) => openRecord(await serving.resolve(version)),
    prepare: async (version, onProgress) => {
      const record = await getVersion(store, version);
      if (versionIndex(record).provider !== "vertex" || indexReady(record)) return;
      await provisionVertexIndex(vertexResources(onProgress), version, record.embedder.dimensions);
    },
    destroy: async (version, onProgress) => {
      const record = await getVersion(store, version);
      if (record.state !== "retired") throw new ConflictError(`index version ${version} is ${record.state}; only a retired version's index data is dropped`, { version, state: record.state });
      serving.forget();
      if (versionIndex(record).provider === "vertex") {
        // Undeploy and delete as recorded steps (a restart resumes them), not through the adapter.
        const held = await opened.get(version)?.catch(() => undefined);
        opened.delete(version);
        await held?.index.close();
        await held?.embedder.close?.();
        await teardownVertexIndex(vertexResources(onProgress), version);
        await vertexTermStats(record)?.clear();
        return;
      }
      const open = await openRecord(record);
      opened.delete(version);
      await open.index.destroy();
      await open.embedder.close?.();
      // Its table's write token goes with the table (a process still holding the table reads its absence as a change); one left behind by a Redis error is harmless.
      await deps.redis.del(tableWritesKey(config.redis.prefix, version)).catch(() => undefined);
    },
    vertexResources,
    close: async () => {
      for (const version of opened.values()) {
        const open = await version.catch(() => undefined);
        await open?.index.close();
        await open?.embedder.close?.();
      }
      opened.clear();
      await vertexClients?.close();
    },
  };
}

/**
 * A fresh deployment has no versions: the configured one (index.version, with
 * the configured embedder and chunking) is created ready and made live, so
 * ingest and search work at once. Racing processes: one creates, the others
 * find it created.
 *
 * On Vertex the version's index must be created and deployed first (minutes):
 * the version is created building and made live, and the first worker builds
 * it (unbuiltVersions); search answers 503 naming it until then.
 */
export async function bootstrapVersions(config: Config, store: ObjectStore): Promise<void> {
  if ((await readAlias(store)).alias.live) return;
  const version = config.index.version;
  try {
    await createVersion(store, { version, config: { embedder: config.embedder, chunking: config.chunking, dedupe: config.dedupe, retrieval: config.retrieval, defaultTopK: config.index.defaultTopK }, actor: "system:bootstrap", maxTopK: config.index.maxTopK, defaultIndexProvider: config.index.provider });
    const built = config.index.provider !== "vertex";
    if (built) await moveVersion(store, version, "build-succeeded", { builtAt: new Date().toISOString() });
    await appendAudit(store, { actor: "system:bootstrap", action: "create", version, reason: built ? "first start: the configured index version" : "first start: the configured index version, built by the first worker (its Vertex index is created and deployed)" });
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
  }
  try {
    await swapLive(store, { to: version, expectedVersion: null, actor: "system:bootstrap", audit: { action: "forced-promotion", version, reason: "first start" } });
    await flushAliasJournal(store).catch(() => undefined);
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error; // another process made it live first
  }
}


/** Following versions grouped by chunking profile: each group is chunked once and synced into all its versions. */
export function byProfile(versions: readonly OpenVersion[]): Map<string, OpenVersion[]> {
  const groups = new Map<string, OpenVersion[]>();
  for (const v of versions) groups.set(v.profile, [...(groups.get(v.profile) ?? []), v]);
  return groups;
}

/** What the jobs and the build that write the corpus need; adapters wired at the entry point. */
export interface PipelineDeps {
  config: Config;
  store: ObjectStore;
  redis: Redis;
  catalog: VersionCatalog;
  parser: ParsePool;
  logger: Logger;
  /** Groups this process's documents under one corpus lease; each alone when absent. */
  committer?: Committer;
}

/** Sync dependencies for one chunking profile: its registry, and every given version of it as a target. */
export function syncDepsFor(deps: PipelineDeps, profile: string, versions: readonly OpenVersion[]): SyncDeps {
  const first = versions[0] as OpenVersion;
  return {
    store: deps.store,
    redis: deps.redis,
    registry: createChunkRegistry(deps.redis, registryPrefix(deps.config.redis.prefix, profile)),
    chunks: createChunkStore(deps.redis, registryPrefix(deps.config.redis.prefix, profile)),
    targets: versions.map((v): SyncTarget => ({ version: v.record.version, index: v.index, embedder: v.embedder, cache: v.cache, ...sparseOf(v.record) })),
    profile,
    config: { ...deps.config, dedupe: first.record.config.dedupe },
    logger: deps.logger,
    ...(deps.committer ? { committer: deps.committer } : {}),
    followers: async () => (await deps.catalog.following()).filter((v) => v.profile === profile).map((v) => v.index),
  };
}

/** The BM25 parameters a version's datapoints are written with, when its mode holds sparse vectors. */
function sparseOf(record: IndexVersion): Pick<SyncTarget, "sparse"> {
  const retrieval = versionRetrieval(record);
  return needsSparse(retrieval.mode) ? { sparse: retrieval.bm25 } : {};
}

/**
 * Versions building with no build job (a fresh Vertex deployment's first
 * version: bootstrapVersions), or whose recorded job the queue does not know
 * (created, then the process died before it queued the job; or Redis lost
 * it): a worker queues these builds at start, under the recorded id where
 * there is one, so a build queued meanwhile by its creator is the same job.
 */
export async function buildsToQueue(store: ObjectStore, queued: (jobId: string) => Promise<boolean>): Promise<Array<{ version: string; jobId?: string }>> {
  const building = (await listVersions(store)).filter((v) => v.state === "building");
  const missing = await Promise.all(building.map(async (v) => (v.buildJobId === undefined || !(await queued(v.buildJobId)) ? [{ version: v.version, ...(v.buildJobId ? { jobId: v.buildJobId } : {}) }] : [])));
  return missing.flat();
}
