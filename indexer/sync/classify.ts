import { bandKeys, similarity } from "../../ingest/dedupe/minhash.js";
import { inSlices } from "../../core/yield.js";
import type { CorpusLease } from "./corpus-lock.js";
import type { ManifestChunk } from "./manifest.js";
import { SLICE, signed, type Signed, type SyncContext } from "./sync-context.js";

/**
 * Which chunks of a document are indexed (canonical) and which are
 * near-duplicates of an indexed chunk. The decisions are pure functions; the
 * steps around them read the registry and write what they decide.
 */

export interface MatchRule {
  /** Least estimated Jaccard similarity of a near-duplicate. */
  threshold: number;
  /** Chunks no chunk may match (those about to leave the index). */
  exclude: ReadonlySet<string>;
}

/**
 * The near-duplicate match of a chunk among candidates: the most similar at
 * or above the threshold, ties to the smallest hash, so the order candidates
 * come in does not matter. Never the chunk itself, an excluded chunk, or a
 * candidate without a signature. Pure.
 */
export function bestNearDuplicate(item: Signed, candidates: Iterable<string>, signatures: ReadonlyMap<string, Uint32Array>, rule: MatchRule): string | undefined {
  let best: { hash: string; score: number } | undefined;
  for (const candidate of candidates) {
    const other = signatures.get(candidate);
    if (!other || candidate === item.hash || rule.exclude.has(candidate)) continue;
    const score = similarity(item.signature, other);
    if (score >= rule.threshold && (!best || score > best.score || (score === best.score && candidate < best.hash))) best = { hash: candidate, score };
  }
  return best?.hash;
}

export interface NearDuplicateBatch {
  items: readonly Signed[];
  /** LSH band keys of each item. */
  bandLists: readonly (readonly string[])[];
  /** Per item, the indexed chunks that share a band with it. */
  candidateSets: readonly Iterable<string>[];
  /** Signatures of the indexed candidates. */
  signatures: ReadonlyMap<string, Uint32Array>;
}

/**
 * Matches the items of a batch one at a time, in order (call it with 0, 1, 2…
 * once each): each against the indexed chunks that share a band with it, then,
 * when none matches, against the earlier items of the batch that will be
 * indexed, so two near-identical passages of one document are indexed once.
 * Pure but for the batch's own state.
 */
export function nearDuplicateMatcher(batch: NearDuplicateBatch, rule: MatchRule): (i: number) => string | undefined {
  const local = new Map<string, string[]>(); // band key -> items of this batch that will be indexed
  const signatureOf = new Map(batch.items.map((item) => [item.hash, item.signature]));
  return (i) => {
    const item = batch.items[i] as Signed;
    const bands = batch.bandLists[i] ?? [];
    const match =
      bestNearDuplicate(item, batch.candidateSets[i] ?? [], batch.signatures, rule) ??
      bestNearDuplicate(item, bands.flatMap((band) => local.get(band) ?? []), signatureOf, rule);
    if (!match) for (const band of bands) local.set(band, local.get(band) ?? []).get(band)?.push(item.hash);
    return match;
  };
}

/**
 * Near-duplicate matches for chunks about to be indexed, in one pass: the
 * candidates sharing an LSH band with each are read from the registry, then
 * matched as nearDuplicateMatcher says.
 */
export async function classify(ctx: SyncContext, items: readonly Signed[], exclude: ReadonlySet<string>): Promise<Map<string, string>> {
  const { registry, config } = ctx.deps;
  const matches = new Map<string, string>();
  if (items.length === 0) return matches;
  const bandLists = items.map((item) => bandKeys(item.signature, ctx.minhash.bands));
  const candidateSets: Set<string>[] = [];
  await inSlices(bandLists, SLICE, async (slice) => void candidateSets.push(...(await registry.candidatesMany(slice))));
  const all = new Set<string>();
  for (const set of candidateSets) for (const c of set) all.add(c);
  const signatures = await registry.signatures([...all]);
  const match = nearDuplicateMatcher({ items, bandLists, candidateSets, signatures }, { threshold: config.dedupe.threshold, exclude });
  for (const [i, item] of items.entries()) {
    await ctx.pause();
    const found = match(i);
    if (found) matches.set(item.hash, found);
  }
  return matches;
}

/** Where a chunk of the document stands before classification. */
export type Standing =
  /** Indexed already; `relink` when a stale near-duplicate link (left by an interrupted promotion) must go. */
  | { kind: "canonical"; relink: boolean }
  /** Still a near-duplicate of an indexed chunk that stays. */
  | { kind: "near-duplicate"; of: string }
  /** Neither: to be classified. */
  | { kind: "unplaced" };

export interface RegistryView {
  /** Near-duplicate links: chunk → the chunk it duplicates. */
  dupOf: ReadonlyMap<string, string>;
  /** Indexed chunks (those with a signature in the registry). */
  canonical: { has(hash: string): boolean };
  /** Chunks about to leave the index. */
  leaving: ReadonlySet<string>;
}

/** Where a chunk stands, from the registry: a near-duplicate of a chunk that leaves, or that is not indexed, needs classifying again. Pure. */
export function standingOf(hash: string, view: RegistryView): Standing {
  const known = view.dupOf.get(hash);
  if (view.canonical.has(hash)) return { kind: "canonical", relink: known !== undefined };
  if (known && !view.leaving.has(known) && view.canonical.has(known)) return { kind: "near-duplicate", of: known };
  return { kind: "unplaced" };
}

/**
 * Step 1: every chunk of the document becomes canonical or a near-duplicate
 * of a canonical chunk in the registry. Returns the canonical chunks, which
 * every target must hold; adds to `touched` the indexed chunks whose
 * restricts may change.
 */
export async function classifyChunks(ctx: SyncContext, leaving: ReadonlySet<string>, touched: Set<string>): Promise<string[]> {
  const { registry } = ctx.deps;
  const lease = ctx.lease as CorpusLease;
  const hashes = [...ctx.byHash.keys()];
  const dupOf = await registry.dupOf(hashes);
  const canonical = await registry.signatures([...new Set([...hashes, ...dupOf.values()])]);
  const mine: string[] = [];
  const unplaced: ManifestChunk[] = [];
  for (const chunk of ctx.next?.chunks ?? []) {
    await ctx.pause();
    const standing = standingOf(chunk.hash, { dupOf, canonical, leaving });
    if (standing.kind === "canonical") {
      mine.push(chunk.hash);
      touched.add(chunk.hash);
      if (standing.relink) await registry.unmarkDuplicate(lease, chunk.hash); // left by a promotion a crash interrupted
    } else if (standing.kind === "near-duplicate") {
      touched.add(standing.of);
      ctx.counts.nearDuplicates += 1;
    } else unplaced.push(chunk);
  }
  mine.push(...(await placeUnplaced(ctx, unplaced, dupOf, leaving, touched)));
  return mine;
}

/**
 * Links each unplaced chunk to the near-duplicate it matches, or marks it
 * canonical. A chunk some target already holds is canonical whatever it
 * matches: the index says so (a group whose claims were not written after its
 * index write, or a registry rebuilt without it), and linking it would leave
 * its datapoint behind for good. Returns the new canonical chunks.
 */
async function placeUnplaced(ctx: SyncContext, unplaced: readonly ManifestChunk[], dupOf: ReadonlyMap<string, string>, leaving: ReadonlySet<string>, touched: Set<string>): Promise<string[]> {
  const { registry, config } = ctx.deps;
  const lease = ctx.lease as CorpusLease;
  const items = await signed(ctx, unplaced);
  const indexed = await heldByATarget(ctx, unplaced.map((c) => c.hash));
  const matches = config.dedupe.nearDuplicates ? await classify(ctx, items.filter((item) => !indexed.has(item.hash)), leaving) : new Map<string, string>();
  const fresh: Array<Signed & { bands: string[] }> = [];
  for (const item of items) {
    await ctx.pause();
    const match = matches.get(item.hash);
    if (match) {
      await registry.markDuplicate(lease, item.hash, match);
      touched.add(match);
      ctx.counts.nearDuplicates += 1;
    } else fresh.push({ ...item, bands: bandKeys(item.signature, ctx.minhash.bands) });
  }
  await inSlices(fresh, SLICE, (slice) => registry.markCanonicalMany(lease, slice));
  for (const { hash } of fresh) if (dupOf.has(hash)) await registry.unmarkDuplicate(lease, hash);
  return fresh.map((f) => f.hash);
}

/** Those of these chunks some target holds (under the lease, answered from what the group read of the indexes). */
async function heldByATarget(ctx: SyncContext, hashes: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  if (hashes.length === 0) return out;
  await inSlices(hashes, SLICE, async (slice) => {
    for (const target of ctx.deps.targets) for (const id of (await target.index.fetch(slice)).keys()) out.add(id);
  });
  return out;
}
