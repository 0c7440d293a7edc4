import type { Redis } from "ioredis";
import type { Config } from "../../config/schema.js";
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { ObjectStore } from "../../core/object-store.js";
import { mapBounded } from "../../core/pool.js";
import { createPause, inSlices } from "../../core/yield.js";
import { bandKeys } from "../../ingest/dedupe/minhash.js";
import type { VectorIndex } from "../indexes/vector-index.js";
import { createChunkStore, type ChunkRecord } from "./chunk-store.js";
import type { CorpusLease } from "./corpus-lock.js";
import { hasManifests, readManifests } from "./manifest.js";
import { registryPrefix } from "./profile.js";
import { createChunkRegistry } from "./registry.js";
import { byDocument, deriveRegistry, wantedMetadata, type RegistrySnapshot } from "./registry-snapshot.js";

/**
 * The chunk registry (and chunk store) of a profile, rebuilt from its
 * manifests, the source of truth.
 *
 * Redis without persistence loses the registry on a restart. Nothing wrote it
 * back: a re-run ingest took the "unchanged" path, and a later delete found
 * no references, so it left the document's datapoints in the index for good
 * (issue 15, finding 1). Now the registry carries a marker, written with it
 * (when a profile's first group finds no manifests) and last by a rebuild.
 * Every commit group checks the marker once when it takes the corpus lease
 * (one EXISTS; a Redis that lost its data lost the lease too, so every later
 * write is a new group and is checked): a registry without its marker while
 * manifests exist is rebuilt under that lease before anything is written, or,
 * when sync.onMissingRegistry is "refuse", the group fails with a message
 * that says to run `ragops registry rebuild`.
 *
 * Rebuilding is the default because it is safe and cheap: it runs under the
 * corpus lease, so no sync interleaves with it, it reads only the manifests
 * and what the indexes hold, and it takes as long as reading the manifests
 * and hashing the chunks once. Refusing turns a Redis restart into failing
 * jobs until an operator acts; it is for those who want to look first.
 */

/** The marker of a profile's registry. `prefix` is the profile's registry prefix. */
export const registryMarkerKey = (prefix: string) => `${prefix}:registry`;

export interface RegistryMarker {
  writtenAt: string;
  /** "new": the registry of a profile with no manifests yet; "rebuilt": from the manifests. */
  how: "new" | "rebuilt";
  manifests: number;
}

export interface RegistryRebuild {
  profile: string;
  manifests: number;
  chunks: number;
  canonical: number;
  nearDuplicates: number;
  /** Canonical chunks no index holds: `ragops reconcile --repair` writes them. */
  notIndexed: number;
  chunkStoreEntries: number;
  ms: number;
}

export interface RegistryRebuildDeps {
  store: ObjectStore;
  redis: Redis;
  redisPrefix: string;
  profile: string;
  dedupe: Config["dedupe"];
  /** The indexes following the profile: a chunk one of them holds stays canonical. */
  indexes: ReadonlyArray<Pick<VectorIndex, "fetch">>;
}

/** Hashes per index read and registry pipeline. */
const SLICE = 1_000;
/** Registry writes in flight at once (one connection: they pipeline). */
const WRITES = 32;

// KEYS: lease, keys to delete...; ARGV: token
const GUARDED_DEL = `if redis.call("get", KEYS[1]) ~= ARGV[1] then return redis.error_reply("FENCED lease lost") end for i = 2, #KEYS do redis.call("del", KEYS[i]) end return 1`;
// KEYS: lease, marker; ARGV: token, value
const GUARDED_SET = `if redis.call("get", KEYS[1]) ~= ARGV[1] then return redis.error_reply("FENCED lease lost") end redis.call("set", KEYS[2], ARGV[2]) return 1`;

async function fenced(run: () => Promise<unknown>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if (/FENCED/.test((error as Error).message)) throw new UnavailableError("the corpus lock was lost while rebuilding the chunk registry; run it again", { cause: error });
    throw error;
  }
}

async function writeMarker(redis: Redis, prefix: string, lease: CorpusLease, marker: RegistryMarker): Promise<void> {
  await fenced(() => redis.eval(GUARDED_SET, 2, lease.key, registryMarkerKey(prefix), lease.token, JSON.stringify(marker)));
}

/** Deletes every registry and chunk store key of the profile, the marker first; never the lease. */
async function clearRegistry(redis: Redis, prefix: string, lease: CorpusLease): Promise<void> {
  await fenced(() => redis.eval(GUARDED_DEL, 2, lease.key, registryMarkerKey(prefix), lease.token));
  const keep = new Set([lease.key, `${lease.key}:fence`, `${prefix}:lock`, `${prefix}:lock:fence`]);
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}:*`, "COUNT", SLICE);
    cursor = next;
    const doomed = keys.filter((key) => !keep.has(key));
    if (doomed.length) await fenced(() => redis.eval(GUARDED_DEL, doomed.length + 1, lease.key, ...doomed, lease.token));
  } while (cursor !== "0");
}

/** Chunks one of the indexes holds, read in slices. */
export async function heldByAny(indexes: ReadonlyArray<Pick<VectorIndex, "fetch">>, hashes: readonly string[]): Promise<Set<string>> {
  const held = new Set<string>();
  await inSlices(hashes, SLICE, async (slice) => {
    for (const index of indexes) for (const id of (await index.fetch(slice)).keys()) held.add(id);
  });
  return held;
}

/** Writes a snapshot into an emptied registry, and the chunk store entries of its canonical chunks. */
async function writeSnapshot(deps: RegistryRebuildDeps, prefix: string, lease: CorpusLease, snapshot: RegistrySnapshot, entries: Map<string, ChunkRecord>): Promise<void> {
  const registry = createChunkRegistry(deps.redis, prefix);
  const chunks = createChunkStore(deps.redis, prefix);
  await mapBounded([...snapshot.docRefs], WRITES, async ([documentId, hashes]) => {
    await registry.setDocMeta(lease, documentId, snapshot.docMeta.get(documentId));
    await inSlices([...hashes], SLICE, (slice) => registry.addRefs(lease, documentId, slice));
  });
  const items = [...snapshot.canonical].map(([hash, signature]) => ({ hash, signature, bands: bandKeys(signature, deps.dedupe.bands) }));
  await inSlices(items, SLICE, (slice) => registry.markCanonicalMany(lease, slice));
  await mapBounded([...snapshot.dupOf], WRITES, ([hash, canonical]) => registry.markDuplicate(lease, hash, canonical));
  await inSlices([...entries], SLICE, (slice) => chunks.put(lease, new Map(slice)));
}

/**
 * Rebuilds the profile's registry and chunk store from its manifests, under
 * the caller's corpus lease: everything of the profile in Redis is replaced,
 * and the marker written last, so a rebuild cut short is done again.
 */
export async function rebuildRegistry(deps: RegistryRebuildDeps, lease: CorpusLease): Promise<RegistryRebuild> {
  const started = performance.now();
  const prefix = registryPrefix(deps.redisPrefix, deps.profile);
  const manifests = await readManifests(deps.store, deps.profile);
  const docs = byDocument(manifests);
  const hashes = [...new Set(manifests.flatMap((m) => m.chunks.map((c) => c.hash)))];
  const held = await heldByAny(deps.indexes, hashes);
  const { dedupe } = deps;
  // The lease is renewed by a timer: the hashing of a large corpus hands the event loop back every few ms.
  const snapshot = await deriveRegistry(manifests, (h) => held.has(h), { minhash: { permutations: dedupe.permutations, shingleWords: dedupe.shingleWords, bands: dedupe.bands }, threshold: dedupe.threshold, nearDuplicates: dedupe.nearDuplicates }, createPause());
  const entries = new Map([...wantedMetadata(snapshot, docs, snapshot.canonical.keys())].map(([hash, metadata]) => [hash, metadata.record]));
  await clearRegistry(deps.redis, prefix, lease);
  await writeSnapshot(deps, prefix, lease, snapshot, entries);
  await writeMarker(deps.redis, prefix, lease, { writtenAt: new Date().toISOString(), how: "rebuilt", manifests: manifests.length });
  return {
    profile: deps.profile,
    manifests: manifests.length,
    chunks: hashes.length,
    canonical: snapshot.canonical.size,
    nearDuplicates: snapshot.dupOf.size,
    notIndexed: [...snapshot.canonical.keys()].filter((h) => !held.has(h)).length,
    chunkStoreEntries: entries.size,
    ms: Math.round(performance.now() - started),
  };
}

export type OnMissingRegistry = Config["sync"]["onMissingRegistry"];

export interface RegistryGuardDeps extends Omit<RegistryRebuildDeps, "indexes"> {
  /** The indexes following the profile, read only when a rebuild is needed. */
  indexes: () => Promise<ReadonlyArray<Pick<VectorIndex, "fetch">>>;
  onMissing: OnMissingRegistry;
  logger: Logger;
}

/** Whether the profile's registry carries its marker (one EXISTS). */
export async function registryMarked(redis: Redis, redisPrefix: string, profile: string): Promise<boolean> {
  return (await redis.exists(registryMarkerKey(registryPrefix(redisPrefix, profile)))) === 1;
}

/**
 * Before a commit group writes, under its lease: the registry is there, or is
 * made so. Returns the rebuild when one ran.
 */
export async function ensureRegistry(deps: RegistryGuardDeps, lease: CorpusLease): Promise<RegistryRebuild | undefined> {
  if (await registryMarked(deps.redis, deps.redisPrefix, deps.profile)) return undefined;
  const prefix = registryPrefix(deps.redisPrefix, deps.profile);
  if (!(await hasManifests(deps.store, deps.profile))) {
    await writeMarker(deps.redis, prefix, lease, { writtenAt: new Date().toISOString(), how: "new", manifests: 0 });
    return undefined;
  }
  if (deps.onMissing === "refuse") {
    throw new UnavailableError(
      `the chunk registry of profile ${deps.profile} is missing from Redis (it lost its data, or the registry predates its marker) while the profile has manifests: nothing is written until it is rebuilt. Run \`ragops registry rebuild\`, or set sync.onMissingRegistry to "rebuild"`,
      { details: { profile: deps.profile } },
    );
  }
  deps.logger.warn({ profile: deps.profile }, `the chunk registry of profile ${deps.profile} is missing from Redis (no registry marker) while manifests exist: rebuilding it from the manifests under the corpus lease before writing`);
  const rebuilt = await rebuildRegistry({ ...deps, indexes: await deps.indexes() }, lease);
  deps.logger.warn(rebuilt, `rebuilt the chunk registry of profile ${deps.profile} from ${rebuilt.manifests} manifests: ${rebuilt.canonical} indexed chunks, ${rebuilt.nearDuplicates} near-duplicates${rebuilt.notIndexed ? `; ${rebuilt.notIndexed} indexed chunks no index holds (ragops reconcile --repair writes them)` : ""}`);
  return rebuilt;
}
