import { isDeepStrictEqual } from "node:util";
import type { Redis } from "ioredis";
import type { Config } from "../../config/schema.js";
import { bandKeys, minhash, similarity, type MinHashOptions } from "../../ingest/dedupe/minhash.js";
import { diffChunks, primaryDocument } from "./diff.js";
import { embedWithCache, type EmbeddingCache } from "../embedding-cache.js";
import type { Embedder } from "../embedders/embedder.js";
import type { Datapoint, NumericRestricts, Restricts, StoredRestricts, VectorIndex } from "../indexes/vector-index.js";
import type { ChunkRecord, ChunkStore } from "./chunk-store.js";
import { UnavailableError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { JobProgress } from "./progress.js";
import { writeJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { withCorpusLease, type CorpusLease } from "./corpus-lock.js";
import { manifestKey, readManifest, type DocumentManifest, type ManifestChunk } from "./manifest.js";
import type { ChunkRegistry } from "./registry.js";
import { createPause, inSlices, type Pause } from "../../core/yield.js";

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
 */
/** One index version that follows this chunking profile: its index, and the embedder (with its cache) that fills it. */
export interface SyncTarget {
  version: string;
  index: VectorIndex;
  embedder: Embedder;
  cache: EmbeddingCache;
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

export function corpusLockKey(redisPrefix: string, profile: string): string {
  return `${redisPrefix}:corpus:${profile}:lock`;
}

interface Context {
  deps: SyncDeps;
  lease?: CorpusLease;
  /** The document being synced, and its new state. */
  d: string;
  next: DocumentManifest | null;
  byHash: Map<string, ManifestChunk>;
  /** Vectors by target version, then chunk hash. */
  vectors: Map<string, Map<string, Float32Array>>;
  counts: SyncCounts;
  minhash: MinHashOptions;
  /** Other documents' manifests read during this sync. */
  manifests: Map<string, DocumentManifest | undefined>;
  /** Lets the event loop in during loops over thousands of chunks. */
  pause: Pause;
}

/** Chunks per Redis pipeline, embedding call or index call of one step: a large document is many short steps, not one long block. */
const SLICE = 1_000;

export async function syncDocument(deps: SyncDeps, request: SyncRequest): Promise<SyncCounts | "stale"> {
  const { registry, config } = deps;
  const next = request.next;
  const ctx: Context = {
    deps,
    d: request.documentId,
    next,
    byHash: new Map((next?.chunks ?? []).map((c) => [c.hash, c])),
    vectors: new Map(deps.targets.map((t) => [t.version, new Map<string, Float32Array>()])),
    counts: emptyCounts(),
    minhash: { permutations: config.dedupe.permutations, shingleWords: config.dedupe.shingleWords, bands: config.dedupe.bands },
    manifests: new Map(),
    pause: createPause(),
  };
  const signatures = new Map<string, Uint32Array>();
  const signed = async (chunks: readonly ManifestChunk[]) => {
    const out: Array<{ hash: string; signature: Uint32Array }> = [];
    for (const chunk of chunks) {
      await ctx.pause();
      let signature = signatures.get(chunk.hash);
      if (!signature) signatures.set(chunk.hash, (signature = minhash(chunk.text, ctx.minhash)));
      out.push({ hash: chunk.hash, signature });
    }
    return out;
  };
  const hashes = [...ctx.byHash.keys()];

  // Before the lock: embed what will most likely need a vector, so the slow part does not hold other jobs up.
  const before = diffChunks(await registry.docRefs(ctx.d), hashes);
  const knownDup = await registry.dupOf(before.added);
  const leavingBefore = await onlyMine(ctx, before.removed);
  const held = await Promise.all(deps.targets.map((t) => t.index.fetch(before.added)));
  const unknown = before.added.filter((h) => !knownDup.has(h) && held.some((stored) => !stored.has(h))).map((h) => ctx.byHash.get(h) as ManifestChunk);
  const preview = config.dedupe.nearDuplicates ? await classify(ctx, await signed(unknown), leavingBefore) : new Map<string, string>();
  const likely = unknown.filter((c) => !preview.has(c.hash));
  await request.onProgress?.({ stage: "embedding", percent: 30, detail: `${likely.length} new chunks to embed` });
  for (const [i, target] of deps.targets.entries()) {
    const wanted = likely.filter((c) => !held[i]?.has(c.hash));
    let done = 0;
    await inSlices(wanted, SLICE, async (slice) => {
      const embedded = await embedWithCache(target.embedder, target.cache, new Map(slice.map((c) => [c.hash, c.text])), {
        batchSize: config.embedder.batchSize,
        concurrency: config.embedder.concurrency,
        onProgress: (n) => request.onProgress?.({ stage: "embedding", percent: 30 + Math.round((50 * (done + n)) / Math.max(1, wanted.length)), detail: `${done + n}/${wanted.length} chunks for ${target.version}` }),
      });
      done += slice.length;
      ctx.counts.embedded += embedded.embedded;
      ctx.counts.cacheHits += embedded.cacheHits;
      for (const [h, v] of embedded.vectors) ctx.vectors.get(target.version)?.set(h, v);
    });
  }

  await request.onProgress?.({ stage: "indexing", percent: 85 });
  const lockOptions = { ttlMs: config.sync.lockTtlMs, waitMs: config.sync.lockWaitMs };
  return withCorpusLease(deps.redis, corpusLockKey(config.redis.prefix, deps.profile), lockOptions, async (lease) => {
    if (!(await request.isCurrent())) return "stale" as const;
    ctx.lease = lease;
    const { counts } = ctx;
    const diff = diffChunks(await registry.docRefs(ctx.d), hashes);
    counts.chunks = hashes.length;
    counts.unchanged = diff.unchanged.length;
    counts.added = diff.added.length;
    counts.removed = diff.removed.length;
    const leaving = await onlyMine(ctx, diff.removed);
    const touched = new Set<string>(); // indexed chunks whose restricts or entry may have changed

    if (next) await registry.setDocMeta(lease, ctx.d, { tags: next.tags, contentType: next.contentType });
    await inSlices(hashes, SLICE, (slice) => registry.addRefs(lease, ctx.d, slice));

    // 1. Every chunk of the document is canonical (indexed in every target) or a near-duplicate of a canonical chunk.
    const dupOf = await registry.dupOf(hashes);
    const canonical = await registry.signatures([...new Set([...hashes, ...dupOf.values()])]);
    const mine: string[] = [];
    const pending: ManifestChunk[] = [];
    for (const chunk of next?.chunks ?? []) {
      await ctx.pause();
      const known = dupOf.get(chunk.hash);
      if (canonical.has(chunk.hash)) {
        mine.push(chunk.hash);
        touched.add(chunk.hash);
        if (known) await registry.unmarkDuplicate(lease, chunk.hash); // left by a promotion a crash interrupted
      } else if (known && !leaving.has(known) && canonical.has(known)) {
        touched.add(known);
        counts.nearDuplicates += 1;
      } else pending.push(chunk);
    }
    const items = await signed(pending);
    const matches = config.dedupe.nearDuplicates ? await classify(ctx, items, leaving) : new Map<string, string>();
    const fresh: Array<{ hash: string; signature: Uint32Array; bands: string[] }> = [];
    for (const item of items) {
      await ctx.pause();
      const match = matches.get(item.hash);
      if (match) {
        await registry.markDuplicate(lease, item.hash, match);
        touched.add(match);
        counts.nearDuplicates += 1;
      } else fresh.push({ ...item, bands: bandKeys(item.signature, ctx.minhash.bands) });
    }
    await inSlices(fresh, SLICE, (slice) => registry.markCanonicalMany(lease, slice));
    for (const { hash } of fresh) if (dupOf.has(hash)) await registry.unmarkDuplicate(lease, hash);
    mine.push(...fresh.map((f) => f.hash));
    // Each target gets the canonical chunks it lacks (all of them for a version being built).
    for (const target of deps.targets) {
      await inSlices(mine, SLICE, async (slice) => {
        const stored = await target.index.fetch(slice);
        await upsertCanonical(ctx, target, slice.filter((h) => !stored.has(h)));
      });
    }

    // 2. Chunks the document no longer has: drop its reference, and the datapoint when nobody else needs it.
    //    Datapoints leave the index in one batch, before the references that would let a retry find them again.
    const orphans: string[] = [];
    for (const h of diff.removed) if (await release(ctx, h, touched)) orphans.push(h);
    if (orphans.length) {
      await ensureHeld(ctx);
      for (const target of deps.targets) await target.index.remove(orphans);
      counts.indexRemovals += orphans.length * deps.targets.length;
      await deps.chunks.delete(lease, orphans);
    }
    const orphanSignatures = await registry.signatures(orphans);
    for (const h of orphans) {
      const signature = orphanSignatures.get(h);
      await registry.unmarkCanonical(lease, h, signature ? bandKeys(signature, ctx.minhash.bands) : []);
    }
    for (const h of diff.removed) await registry.removeRef(lease, ctx.d, h);

    // 3. Restricts and chunk store entries of indexed chunks that gained or lost this document.
    await inSlices([...touched], SLICE, (slice) => refreshMetadata(ctx, slice));

    if (next) await writeJson(deps.store, manifestKey(deps.profile, ctx.d), next);
    else {
      await deps.store.delete(manifestKey(deps.profile, ctx.d));
      await registry.setDocMeta(lease, ctx.d, undefined);
    }
    return counts;
  });
}

/** Chunks this document is the only one to reference (about to leave the index with it). */
async function onlyMine(ctx: Context, hashes: readonly string[]): Promise<Set<string>> {
  const refs = await ctx.deps.registry.refs(hashes);
  return new Set(hashes.filter((h) => [...(refs.get(h) ?? [])].every((doc) => doc === ctx.d)));
}

/**
 * Near-duplicate matches for chunks about to be indexed, in one pass: each is
 * compared with the indexed chunks that share an LSH band with it, and then
 * with the chunks before it in this same batch that will be indexed, so two
 * near-identical passages of one document are indexed once too.
 */
async function classify(ctx: Context, items: ReadonlyArray<{ hash: string; signature: Uint32Array }>, exclude: ReadonlySet<string>): Promise<Map<string, string>> {
  const { registry, config } = ctx.deps;
  const matches = new Map<string, string>();
  if (items.length === 0) return matches;
  const bandLists = items.map((item) => bandKeys(item.signature, ctx.minhash.bands));
  const candidateSets: Set<string>[] = [];
  await inSlices(bandLists, SLICE, async (slice) => void candidateSets.push(...(await registry.candidatesMany(slice))));
  const all = new Set<string>();
  for (const set of candidateSets) for (const c of set) all.add(c);
  const signatures = await registry.signatures([...all]);
  const local = new Map<string, string[]>(); // band key -> chunks of this batch that will be indexed
  const signatureOf = new Map(items.map((item) => [item.hash, item.signature]));
  for (const [i, item] of items.entries()) {
    await ctx.pause();
    let best: { hash: string; score: number } | undefined;
    const consider = (candidate: string, other: Uint32Array | undefined) => {
      if (!other || candidate === item.hash || exclude.has(candidate)) return;
      const score = similarity(item.signature, other);
      if (score >= config.dedupe.threshold && (!best || score > best.score || (score === best.score && candidate < best.hash))) best = { hash: candidate, score };
    };
    for (const candidate of candidateSets[i] ?? []) consider(candidate, signatures.get(candidate));
    if (!best) for (const band of bandLists[i] ?? []) for (const earlier of local.get(band) ?? []) consider(earlier, signatureOf.get(earlier));
    if (best) matches.set(item.hash, best.hash);
    else for (const band of bandLists[i] ?? []) local.set(band, local.get(band) ?? []).get(band)?.push(item.hash);
  }
  return matches;
}

async function upsertCanonical(ctx: Context, target: SyncTarget, hashes: readonly string[]): Promise<void> {
  if (hashes.length === 0) return;
  const { deps, counts } = ctx;
  const vectors = ctx.vectors.get(target.version) as Map<string, Float32Array>;
  const texts = new Map<string, string>();
  for (const h of hashes) if (!vectors.has(h)) texts.set(h, (await chunkOf(ctx, ctx.d, h))?.chunk.text ?? "");
  if (texts.size) {
    const late = await embedWithCache(target.embedder, target.cache, texts, { batchSize: deps.config.embedder.batchSize, concurrency: deps.config.embedder.concurrency });
    counts.embedded += late.embedded;
    counts.cacheHits += late.cacheHits;
    for (const [h, v] of late.vectors) vectors.set(h, v);
  }
  const metadata = await metadataOf(ctx, hashes);
  const datapoints: Datapoint[] = hashes.map((h) => {
    const { restricts, numericRestricts } = metadata.get(h) as Metadata;
    return { id: h, vector: vectors.get(h) as Float32Array, restricts, numericRestricts };
  });
  // The entry first: a datapoint any search can find always has one.
  await deps.chunks.put(ctx.lease as CorpusLease, new Map(hashes.map((h) => [h, (metadata.get(h) as Metadata).record])));
  await ensureHeld(ctx);
  await target.index.upsert(datapoints);
  counts.indexWrites += datapoints.length;
}

/**
 * Lets go of one chunk the document no longer has. Returns true when the chunk
 * must leave the index (its last reference went and its heirs were placed);
 * the caller removes such chunks in one batch, then drops the references.
 */
async function release(ctx: Context, h: string, touched: Set<string>): Promise<boolean> {
  const { registry } = ctx.deps;
  const lease = ctx.lease as CorpusLease;
  const others = [...((await registry.refs([h])).get(h) ?? [])].filter((doc) => doc !== ctx.d);
  const canonical = (await registry.dupOf([h])).get(h);
  if (canonical) {
    // A near-duplicate: never indexed itself; its canonical chunk may lose this document from its restricts.
    touched.add(canonical);
    if (others.length === 0) await registry.unmarkDuplicate(lease, h);
    return false;
  }
  if (others.length > 0) {
    touched.add(h);
    return false;
  }
  // The last reference to an indexed chunk. Its near-duplicates that are still referenced take its place
  // before it leaves, so no document's text is unfindable at any moment.
  const heirs = [...(await registry.dupsOf(h))].sort();
  const heirRefs = await registry.refs(heirs);
  for (const x of heirs) {
    if ((heirRefs.get(x)?.size ?? 0) === 0) {
      await registry.unmarkDuplicate(lease, x);
      continue;
    }
    const signature = minhash((await chunkOf(ctx, ctx.d, x))?.chunk.text ?? "", ctx.minhash);
    const match = (await classify(ctx, [{ hash: x, signature }], new Set([h]))).get(x);
    if (match) {
      await registry.markDuplicate(lease, x, match);
      touched.add(match);
      continue;
    }
    await registry.markCanonical(lease, x, signature, bandKeys(signature, ctx.minhash.bands));
    for (const target of ctx.deps.targets) await upsertCanonical(ctx, target, [x]);
    await registry.unmarkDuplicate(lease, x);
    ctx.counts.promoted += 1;
  }
  touched.delete(h);
  return true;
}

/**
 * Writes restricts (in each target) and chunk store entries of indexed chunks
 * where they differ from what is held. Counts, per target, the datapoints
 * whose restricts or entry changed.
 */
async function refreshMetadata(ctx: Context, hashes: readonly string[]): Promise<void> {
  if (hashes.length === 0) return;
  const { deps } = ctx;
  const held = await Promise.all(deps.targets.map((t) => t.index.fetch(hashes)));
  const present = hashes.filter((h) => held.some((stored) => stored.has(h)));
  if (present.length === 0) return;
  const wanted = await metadataOf(ctx, present);
  const entries = await deps.chunks.get(present);
  const stale = new Map<string, ChunkRecord>();
  for (const h of present) {
    const record = (wanted.get(h) as Metadata).record;
    if (!isDeepStrictEqual(entries.get(h), record)) stale.set(h, record);
  }
  const updates = held.map((stored) =>
    present.flatMap((h) => {
      const current = stored.get(h);
      const { restricts, numericRestricts } = wanted.get(h) as Metadata;
      return current && !isDeepStrictEqual(current, { restricts, numericRestricts }) ? [{ id: h, restricts, numericRestricts }] : [];
    }),
  );
  if (stale.size === 0 && updates.every((u) => u.length === 0)) return;
  await deps.chunks.put(ctx.lease as CorpusLease, stale);
  await ensureHeld(ctx);
  for (const [i, target] of deps.targets.entries()) {
    const changed = updates[i] ?? [];
    if (changed.length) await target.index.updateRestricts(changed);
    const restrictsChanged = new Set(changed.map((u) => u.id));
    ctx.counts.metadataWrites += changed.length + [...stale.keys()].filter((h) => held[i]?.has(h) && !restrictsChanged.has(h)).length;
  }
}

/** What sync writes of an indexed chunk besides its vector: its restricts, and its chunk store entry. */
interface Metadata extends StoredRestricts {
  record: ChunkRecord;
}

/**
 * Restricts of indexed chunks: every document that references each, or one of
 * its near-duplicates, their tags and content types. Entry and date: the chunk
 * as its primary document (smallest id among its direct references) has it,
 * so they do not depend on ingest order. Only what stays put while the text
 * stays put goes in (no version, no char offsets: an insertion above would
 * rewrite every chunk below); offsets are in the manifest.
 */
async function metadataOf(ctx: Context, hashes: readonly string[]): Promise<Map<string, Metadata>> {
  const { registry } = ctx.deps;
  const direct = await registry.refs(hashes);
  const dups = await registry.dupsOfMany(hashes);
  const dupRefs = await registry.refs([...new Set([...dups.values()].flatMap((set) => [...set]))]);
  const documentsOf = (h: string) => {
    const docs = new Set(direct.get(h) ?? []);
    for (const x of dups.get(h) ?? []) for (const doc of dupRefs.get(x) ?? []) docs.add(doc);
    return [...docs].sort();
  };
  const metas = await registry.docMeta([...new Set(hashes.flatMap(documentsOf))]);
  const out = new Map<string, Metadata>();
  for (const h of hashes) {
    const ids = documentsOf(h);
    const tags = new Set<string>();
    const contentTypes = new Set<string>();
    for (const id of ids) {
      const meta = metas.get(id);
      if (!meta) continue;
      for (const tag of meta.tags) tags.add(tag);
      contentTypes.add(meta.contentType);
    }
    const restricts: Restricts = { documentIds: ids, tags: [...tags].sort(), contentTypes: [...contentTypes].sort() };
    const primary = primaryDocument(direct.get(h) ?? []) ?? ctx.d;
    const found = await chunkOf(ctx, primary, h);
    const record: ChunkRecord = {
      documentId: found?.documentId ?? primary,
      documentIds: ids,
      text: found?.chunk.text ?? "",
      title: found?.manifest?.title ?? "",
      source: found?.manifest?.source ?? "",
      headingPath: found?.chunk.headingPath ?? [],
      ...(found?.chunk.pageStart !== undefined ? { pageStart: found.chunk.pageStart, pageEnd: found.chunk.pageEnd ?? found.chunk.pageStart } : {}),
      tags: restricts.tags,
      contentType: found?.manifest?.contentType ?? restricts.contentTypes[0] ?? "",
    };
    out.set(h, { restricts, numericRestricts: numericOf(found?.manifest?.date), record });
  }
  return out;
}

/** The primary document's date as epoch seconds, when it has a valid one. */
export function numericOf(date: string | undefined): NumericRestricts {
  const ms = date ? Date.parse(date) : Number.NaN;
  return Number.isFinite(ms) ? { date: Math.floor(ms / 1000) } : {};
}

interface FoundChunk {
  documentId: string;
  chunk: ManifestChunk;
  manifest: DocumentManifest | undefined;
}

/** A chunk as one document has it: the document being synced from memory, others from their manifests. */
async function chunkOf(ctx: Context, documentId: string, h: string): Promise<FoundChunk | undefined> {
  const local = documentId === ctx.d ? ctx.byHash.get(h) : undefined;
  if (local) return { documentId, chunk: local, manifest: ctx.next ?? undefined };
  const fromManifest = async (doc: string) => {
    if (doc === ctx.d && ctx.next) return ctx.next.chunks.find((c) => c.hash === h) ? { documentId: doc, chunk: ctx.byHash.get(h) as ManifestChunk, manifest: ctx.next } : undefined;
    if (!ctx.manifests.has(doc)) ctx.manifests.set(doc, await readManifest(ctx.deps.store, ctx.deps.profile, doc));
    const manifest = ctx.manifests.get(doc);
    const chunk = manifest?.chunks.find((c) => c.hash === h);
    return chunk ? { documentId: doc, chunk, manifest } : undefined;
  };
  const found = await fromManifest(documentId);
  if (found) return found;
  // A near-duplicate's text may only be in another referencing document.
  for (const doc of [...((await ctx.deps.registry.refs([h])).get(h) ?? [])].sort()) {
    if (doc === documentId) continue;
    const other = await fromManifest(doc);
    if (other) return other;
  }
  return undefined;
}

async function ensureHeld(ctx: Context): Promise<void> {
  if (!(await ctx.lease?.held())) throw new UnavailableError("the corpus lock was lost before an index write; the job will retry");
}
