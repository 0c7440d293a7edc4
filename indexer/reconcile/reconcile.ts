import type { Redis } from "ioredis";
import type { Config } from "../../config/schema.js";
import { InvalidRequestError, UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { ObjectStore } from "../../core/object-store.js";
import { createPause, inSlices } from "../../core/yield.js";
import { embeddingLookupKey, embedWithCache } from "../embedding-cache.js";
import { readEntries } from "../embedding-cache/lookup.js";
import type { Datapoint, StoredRestricts } from "../indexes/vector-index.js";
import { byProfile, type OpenVersion, type VersionCatalog } from "../lifecycle/catalog.js";
import { getVersion, needsSparse, versionRetrieval } from "../lifecycle/versions.js";
import { countTerms } from "../sparse/analyze.js";
import { documentVector } from "../sparse/bm25.js";
import { corpusLockKey, withCorpusLease, type CorpusLease } from "../sync/corpus-lock.js";
import { readManifests } from "../sync/manifest.js";
import type { Metadata } from "../sync/metadata.js";
import { registryPrefix } from "../sync/profile.js";
import { rebuildRegistry } from "../sync/registry-rebuild.js";
import { byDocument, deriveRegistry, readChunkStore, readRegistrySnapshot } from "../sync/registry-snapshot.js";
import { checkIndex, checkRegistry, manifestRefs, wantedIndex, type HeldIndex, type WantedIndex } from "./check.js";
import { FINDING_KINDS, type Finding, type FindingKind, type IndexFinding } from "./findings.js";
import { findStuck, type DocumentJobs } from "./stuck.js";

/**
 * Reconcile: compares the manifests (what each document must contribute)
 * with the chunk registry and chunk store in Redis, the embedding cache and
 * every index version that follows the corpus (or the one named), and with
 * `repair` fixes what differs.
 *
 * Each chunking profile is read, and repaired, under its corpus lease, the
 * one every commit group of sync takes: what a reconcile sees is never a
 * sync half done, and a repair never interleaves with an ingest (ingests
 * wait for the lease meanwhile, as they wait for one another). Index writes
 * check the lease first, as sync's do, since an index cannot fence writes.
 *
 * Repairs, in order: a registry or chunk store that differs from the
 * manifests is rebuilt from them (registry-rebuild.ts, as `ragops registry
 * rebuild`); then, per version, orphans and duplicates are removed, missing
 * datapoints (and ids held in several rows) upserted with vectors from the
 * embedding cache (embedded again only when it lacks one), and stale
 * restricts rewritten; last, stuck documents get a new job. A repair checks
 * again afterwards and reports what remains.
 */
export interface ReconcileDeps {
  store: ObjectStore;
  redis: Redis;
  config: Pick<Config, "redis" | "sync" | "embedder">;
  catalog: Pick<VersionCatalog, "following">;
  jobs: DocumentJobs;
  logger: Logger;
}

export interface ReconcileOptions {
  /** Only this index version (and its profile's registry). */
  version?: string;
  /** Fix what is found. Without it nothing is written. */
  repair?: boolean;
  /** A document record changed less than this long ago is not reported stuck (its job may be about to be queued). @defaultValue 60000 ms */
  stuckGraceMs?: number;
}

export interface RepairCounts {
  /** Profiles whose registry and chunk store were rebuilt from the manifests. */
  registriesRebuilt: number;
  upserted: number;
  /** Of the upserted, vectors the embedding cache lacked (embedded again). */
  embedded: number;
  removed: number;
  restrictsRewritten: number;
  requeued: number;
}

export interface ReconcileReport {
  checkedAt: string;
  /** Versions checked, with their profile. */
  versions: Array<{ version: string; profile: string; listed: boolean }>;
  /** Versions that follow the corpus but were not checked, and why. */
  skipped: Array<{ version: string; reason: string }>;
  findings: Finding[];
  counts: Record<FindingKind, number>;
  /** True when nothing differs. */
  clean: boolean;
  /** With `repair`: what was done, and what a check afterwards still found. */
  repair?: { applied: RepairCounts; remaining: Finding[]; clean: boolean };
  ms: number;
}

const DEFAULT_STUCK_GRACE_MS = 60_000;
const EMPTY_RESTRICTS: StoredRestricts = { restricts: { documentIds: [], tags: [], contentTypes: [] }, numericRestricts: {} };
/** Ids per index read or write. */
const SLICE = 1_000;

export async function reconcile(deps: ReconcileDeps, options: ReconcileOptions = {}): Promise<ReconcileReport> {
  const started = performance.now();
  const checked = await runPass(deps, options, options.repair === true);
  if (!options.repair) return { ...checked.report, ms: Math.round(performance.now() - started) };
  const after = await runPass(deps, options, false);
  return { ...checked.report, repair: { applied: checked.applied, remaining: after.report.findings, clean: after.report.clean }, ms: Math.round(performance.now() - started) };
}

interface Pass {
  report: Omit<ReconcileReport, "ms" | "repair">;
  applied: RepairCounts;
}

async function runPass(deps: ReconcileDeps, options: ReconcileOptions, repair: boolean): Promise<Pass> {
  const applied: RepairCounts = { registriesRebuilt: 0, upserted: 0, embedded: 0, removed: 0, restrictsRewritten: 0, requeued: 0 };
  const { checkedVersions, skipped, profiles } = await selectVersions(deps, options.version);
  const findings: Finding[] = [];
  const { config, redis } = deps;
  const lock = { ttlMs: config.sync.lockTtlMs, waitMs: config.sync.lockWaitMs };
  for (const [profile, followers] of profiles) {
    const checked = followers.filter((v) => checkedVersions.has(v.record.version));
    if (checked.length === 0) continue;
    await withCorpusLease(redis, corpusLockKey(config.redis.prefix, profile), lock, async (lease) => {
      const found = await checkProfile(deps, profile, followers, checked);
      findings.push(...found.findings);
      if (repair) await repairProfile(deps, profile, followers, checked, found, lease, applied);
    });
  }
  const now = Date.now();
  const stuck = await findStuck(deps.store, deps.jobs, { now, graceMs: options.stuckGraceMs ?? DEFAULT_STUCK_GRACE_MS });
  findings.push(...stuck.findings);
  if (repair) {
    for (const finding of stuck.findings) {
      const record = stuck.records.get(finding.documentId);
      if (record && (await deps.jobs.requeue(record))) applied.requeued += 1;
    }
  }
  const versions = [...profiles].flatMap(([profile, followers]) =>
    followers.filter((v) => checkedVersions.has(v.record.version)).map((v) => ({ version: v.record.version, profile, listed: typeof v.index.listIds === "function" })),
  );
  const counts = Object.fromEntries(FINDING_KINDS.map((kind) => [kind, findings.filter((f) => f.kind === kind).length])) as Record<FindingKind, number>;
  return { report: { checkedAt: new Date(now).toISOString(), versions, skipped, findings, counts, clean: findings.length === 0 }, applied };
}

/** The versions to check: every version following the corpus but those still building, or the one named; each profile with all its followers. */
async function selectVersions(deps: ReconcileDeps, only?: string): Promise<{ checkedVersions: Set<string>; skipped: ReconcileReport["skipped"]; profiles: Map<string, OpenVersion[]> }> {
  const following = await deps.catalog.following();
  const skipped: ReconcileReport["skipped"] = [];
  const checkedVersions = new Set<string>();
  for (const v of following) {
    if (only && v.record.version !== only) continue;
    if (v.record.state === "building") skipped.push({ version: v.record.version, reason: "building: its build is still filling it" });
    else checkedVersions.add(v.record.version);
  }
  if (only && checkedVersions.size === 0) {
    const record = await getVersion(deps.store, only); // NotFound for an unknown version
    const why = record.state === "building" ? "is still building (its build fills it; reconcile it once built)" : `is ${record.state} and follows the corpus no more`;
    throw new InvalidRequestError(`index version ${only} ${why}; versions that can be reconciled: ${following.filter((v) => v.record.state !== "building").map((v) => v.record.version).join(", ") || "none"}`);
  }
  return { checkedVersions, skipped, profiles: byProfile(following) };
}

interface ProfileCheck {
  findings: Finding[];
  registryDrift: boolean;
  /** Which chunks a rebuild keeps indexed because an index holds them. */
  keeps: (hash: string) => boolean;
  wanted: WantedIndex;
  /** Texts of the indexed chunks, for embedding and BM25 terms. */
  texts: (hash: string) => string;
}

/** One profile under its lease: the registry against the manifests, then each checked version against what it must hold. */
async function checkProfile(deps: ReconcileDeps, profile: string, followers: readonly OpenVersion[], checked: readonly OpenVersion[]): Promise<ProfileCheck> {
  const { store, redis, config } = deps;
  const prefix = registryPrefix(config.redis.prefix, profile);
  const manifests = await readManifests(store, profile);
  const docs = byDocument(manifests);
  const stored = await readRegistrySnapshot(redis, prefix);
  const entries = await readChunkStore(redis, prefix);
  const dedupe = (followers[0] as OpenVersion).record.config.dedupe;
  const registryFindings = checkRegistry(profile, docs, stored, entries, dedupe.bands);
  const referenced = [...manifestRefs(docs).keys()];
  // Ids the stores know of: where orphans are looked for in an index that cannot list its ids.
  const known = [...new Set([...referenced, ...stored.refs.keys(), ...stored.canonical.keys(), ...stored.dupOf.keys(), ...entries.keys()])];
  const reads = new Map<string, HeldIndex>();
  for (const v of followers) reads.set(v.record.version, await readIndex(v, referenced, known));
  const heldByAny = (hash: string) => [...reads.values()].some((r) => r.held.has(hash));
  // A rebuild keeps every chunk an index holds indexed. A near-duplicate the registry still links to a chunk an index
  // holds is the exception: held too, it is a duplicate to remove, not a chunk to keep (the link is the evidence).
  const keeps = (hash: string) => {
    const standIn = stored.dupOf.get(hash);
    return heldByAny(hash) && !(standIn !== undefined && heldByAny(standIn));
  };
  // A registry that differs from the manifests is judged as the rebuild a repair runs would make it.
  const view = registryFindings.length
    ? await deriveRegistry(manifests, keeps, { minhash: { permutations: dedupe.permutations, shingleWords: dedupe.shingleWords, bands: dedupe.bands }, threshold: dedupe.threshold, nearDuplicates: dedupe.nearDuplicates }, createPause())
    : stored;
  const wanted = wantedIndex(view, docs);
  const findings: Finding[] = [...registryFindings];
  for (const v of checked) {
    const read = reads.get(v.record.version) as HeldIndex;
    const lacking = [...wanted.indexed].filter((h) => !read.held.has(h));
    await v.cache.open();
    const cached = new Set((await readEntries(redis, embeddingLookupKey(config.redis.prefix, v.embedder.identity), lacking)).keys());
    findings.push(...checkIndex(profile, read, wanted, cached));
  }
  return { findings, registryDrift: registryFindings.length > 0, keeps, wanted, texts: (hash) => (wanted.metadata.get(hash) as Metadata).record.text };
}

/** What a version's index holds: its listing when it can list, and the restricts of every id asked (the listing's, the referenced ones, or all the stores know). */
async function readIndex(v: OpenVersion, referenced: readonly string[], known: readonly string[]): Promise<HeldIndex> {
  const listed = v.index.listIds ? await v.index.listIds() : undefined;
  const ids = listed ? [...new Set([...referenced, ...listed])] : known;
  const held = new Map<string, StoredRestricts>();
  await inSlices(ids, SLICE, async (slice) => {
    for (const [id, restricts] of await v.index.fetch(slice)) held.set(id, restricts);
  });
  return { version: v.record.version, ...(listed ? { listed } : {}), held };
}

/** Repairs one profile, still under the lease its check ran under. */
async function repairProfile(deps: ReconcileDeps, profile: string, followers: readonly OpenVersion[], checked: readonly OpenVersion[], found: ProfileCheck, lease: CorpusLease, applied: RepairCounts): Promise<void> {
  const { config } = deps;
  if (found.registryDrift) {
    const dedupe = (followers[0] as OpenVersion).record.config.dedupe;
    // The rebuild asks the indexes what they hold; it is told what the check decided, so it writes the registry the check judged by.
    const indexes = [{ fetch: async (ids: readonly string[]) => new Map(ids.filter(found.keeps).map((id) => [id, EMPTY_RESTRICTS])) }];
    const rebuilt = await rebuildRegistry({ store: deps.store, redis: deps.redis, redisPrefix: config.redis.prefix, profile, dedupe, indexes }, lease);
    deps.logger.warn(rebuilt, `reconcile rebuilt the chunk registry of profile ${profile} from its manifests`);
    applied.registriesRebuilt += 1;
  }
  for (const v of checked) {
    const mine = found.findings.filter((f): f is IndexFinding => "version" in f && f.version === v.record.version);
    await repairIndex(deps, v, mine, found, lease, applied);
  }
}

async function repairIndex(deps: ReconcileDeps, v: OpenVersion, findings: readonly IndexFinding[], found: ProfileCheck, lease: CorpusLease, applied: RepairCounts): Promise<void> {
  const remove = findings.filter((f) => f.kind === "orphan" || f.kind === "duplicate").map((f) => f.id);
  const upsert = findings.filter((f) => f.kind === "missing" || (f.kind === "duplicate" && f.rows !== undefined)).map((f) => f.id);
  const restricts = findings.flatMap((f) => (f.kind === "stale-restricts" ? [{ id: f.id, ...f.wanted }] : []));
  const ensureHeld = async () => {
    if (!(await lease.held())) throw new UnavailableError("the corpus lock was lost during a reconcile repair; run it again");
  };
  if (remove.length) {
    await ensureHeld();
    await inSlices(remove, SLICE, (slice) => v.index.remove(slice));
    applied.removed += remove.length;
  }
  if (upsert.length) {
    const { batchSize, concurrency } = deps.config.embedder;
    const texts = new Map(upsert.map((h) => [h, found.texts(h)]));
    const embedded = await embedWithCache(v.embedder, v.cache, texts, { batchSize, concurrency });
    const retrieval = versionRetrieval(v.record);
    const bm25 = needsSparse(retrieval.mode) ? retrieval.bm25 : undefined;
    const datapoints: Datapoint[] = upsert.map((h) => {
      const { restricts: r, numericRestricts } = found.wanted.metadata.get(h) as Metadata;
      const sparse = bm25 ? documentVector(countTerms(found.texts(h)), bm25) : undefined;
      return { id: h, vector: embedded.vectors.get(h) as Float32Array, ...(sparse ? { sparse } : {}), restricts: r, numericRestricts };
    });
    await ensureHeld();
    await inSlices(datapoints, SLICE, (slice) => v.index.upsert(slice));
    applied.upserted += datapoints.length;
    applied.embedded += embedded.embedded;
  }
  if (restricts.length) {
    await ensureHeld();
    await inSlices(restricts, SLICE, (slice) => v.index.updateRestricts(slice));
    applied.restrictsRewritten += restricts.length;
  }
}
