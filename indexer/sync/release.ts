import { bandKeys, minhash } from "../../ingest/dedupe/minhash.js";
import type { CorpusLease } from "./corpus-lock.js";
import { classify } from "./classify.js";
import { upsertCanonical } from "./index-writes.js";
import { chunkOf, ensureHeld, type SyncContext } from "./sync-context.js";

/**
 * Letting go of the chunks a document no longer has: its references go, and
 * a chunk's datapoint leaves the index once nobody needs it, after its
 * near-duplicates that are still referenced took its place. The decisions
 * are pure functions; the steps around them read the registry and write.
 */

/** Those of these chunks no document but `documentId` references: they leave the index with it. Pure. */
export function referencedOnlyBy(documentId: string, hashes: readonly string[], refs: ReadonlyMap<string, ReadonlySet<string>>): Set<string> {
  return new Set(hashes.filter((h) => [...(refs.get(h) ?? [])].every((doc) => doc === documentId)));
}

/** What happens to a chunk one document lets go of. */
export type Release =
  /** A near-duplicate, never indexed itself: its canonical chunk may lose the document from its restricts; `unlink` when nobody references it any more. */
  | { kind: "near-duplicate"; canonical: string; unlink: boolean }
  /** Another document still references it: it stays, with new restricts. */
  | { kind: "shared" }
  /** Its last reference goes: heirs take its place, then it leaves the index. */
  | { kind: "last" };

/** From the documents referencing the chunk and the chunk it duplicates (if any). Pure. */
export function releaseOf(documentId: string, refs: ReadonlySet<string>, canonical: string | undefined): Release {
  const others = [...refs].filter((doc) => doc !== documentId).length;
  if (canonical) return { kind: "near-duplicate", canonical, unlink: others === 0 };
  return others > 0 ? { kind: "shared" } : { kind: "last" };
}

export interface Heir {
  hash: string;
  /** False: nobody references it any more, so it is only unlinked. */
  referenced: boolean;
}

/**
 * The near-duplicates of a chunk that leaves, in the order they are placed:
 * by hash, so the first referenced one that matches no other indexed chunk
 * is promoted whatever order the registry lists them in. Pure.
 */
export function heirsOf(duplicates: Iterable<string>, refs: ReadonlyMap<string, ReadonlySet<string>>): Heir[] {
  return [...duplicates].sort().map((hash) => ({ hash, referenced: (refs.get(hash)?.size ?? 0) > 0 }));
}

/** Chunks this document is the only one to reference (about to leave the index with it). */
export async function onlyMine(ctx: SyncContext, hashes: readonly string[]): Promise<Set<string>> {
  return referencedOnlyBy(ctx.d, hashes, await ctx.deps.registry.refs(hashes));
}

/**
 * Step 2: chunks the document no longer has. Drops its references, and the
 * datapoints nobody else needs. Datapoints leave the index in one batch,
 * before the references that would let a retry find them again.
 */
export async function releaseRemoved(ctx: SyncContext, removed: readonly string[], touched: Set<string>): Promise<void> {
  const lease = ctx.lease as CorpusLease;
  const orphans: string[] = [];
  for (const h of removed) if (await releaseChunk(ctx, h, touched)) orphans.push(h);
  if (orphans.length) await removeFromIndexes(ctx, orphans);
  await unmarkCanonical(ctx, orphans);
  for (const h of removed) await ctx.deps.registry.removeRef(lease, ctx.d, h);
}

async function removeFromIndexes(ctx: SyncContext, orphans: readonly string[]): Promise<void> {
  await ensureHeld(ctx);
  for (const target of ctx.deps.targets) await target.index.remove(orphans);
  ctx.counts.indexRemovals += orphans.length * ctx.deps.targets.length;
  await ctx.deps.chunks.delete(ctx.lease as CorpusLease, orphans);
}

/** Takes chunks that left the index out of the registry's LSH buckets. */
async function unmarkCanonical(ctx: SyncContext, orphans: readonly string[]): Promise<void> {
  const { registry } = ctx.deps;
  const signatures = await registry.signatures(orphans);
  for (const h of orphans) {
    const signature = signatures.get(h);
    await registry.unmarkCanonical(ctx.lease as CorpusLease, h, signature ? bandKeys(signature, ctx.minhash.bands) : []);
  }
}

/**
 * Lets go of one chunk the document no longer has. Returns true when the chunk
 * must leave the index (its last reference went and its heirs were placed);
 * the caller removes such chunks in one batch, then drops the references.
 */
async function releaseChunk(ctx: SyncContext, h: string, touched: Set<string>): Promise<boolean> {
  const { registry } = ctx.deps;
  const refs = (await registry.refs([h])).get(h) ?? new Set<string>();
  const release = releaseOf(ctx.d, refs, (await registry.dupOf([h])).get(h));
  if (release.kind === "near-duplicate") {
    touched.add(release.canonical);
    if (release.unlink) await registry.unmarkDuplicate(ctx.lease as CorpusLease, h);
    return false;
  }
  if (release.kind === "shared") {
    touched.add(h);
    return false;
  }
  // The last reference to an indexed chunk. Its near-duplicates that are still referenced take its place
  // before it leaves, so no document's text is unfindable at any moment.
  const duplicates = [...(await registry.dupsOf(h))].sort();
  for (const heir of heirsOf(duplicates, await registry.refs(duplicates))) await placeHeir(ctx, h, heir, touched);
  touched.delete(h);
  return true;
}

/** One near-duplicate of a leaving chunk: unlinked if unreferenced, else re-linked to another match or promoted to canonical. */
async function placeHeir(ctx: SyncContext, leaving: string, heir: Heir, touched: Set<string>): Promise<void> {
  const { registry } = ctx.deps;
  const lease = ctx.lease as CorpusLease;
  const x = heir.hash;
  if (!heir.referenced) {
    await registry.unmarkDuplicate(lease, x);
    return;
  }
  const signature = minhash((await chunkOf(ctx, ctx.d, x))?.chunk.text ?? "", ctx.minhash);
  const match = (await classify(ctx, [{ hash: x, signature }], new Set([leaving]))).get(x);
  if (match) {
    await registry.markDuplicate(lease, x, match);
    touched.add(match);
    return;
  }
  await registry.markCanonical(lease, x, signature, bandKeys(signature, ctx.minhash.bands));
  for (const target of ctx.deps.targets) await upsertCanonical(ctx, target, [x]);
  await registry.unmarkDuplicate(lease, x);
  ctx.counts.promoted += 1;
}
