import { inSlices } from "../../core/yield.js";
import type { Datapoint } from "../indexes/vector-index.js";
import { countTerms, type TermCounts } from "../sparse/analyze.js";
import { documentVector } from "../sparse/bm25.js";
import type { CorpusLease } from "./corpus-lock.js";
import { embedMissing } from "./embed.js";
import { metadataOf, type Metadata } from "./metadata.js";
import { SLICE, ensureHeld, type SyncContext } from "./sync-context.js";
import type { SyncTarget } from "./sync-document.js";

/** Those of these chunks a target's index lacks: they need a vector written (the others at most a restricts update). Pure. */
export function missingFrom(hashes: readonly string[], stored: ReadonlyMap<string, unknown>): string[] {
  return hashes.filter((h) => !stored.has(h));
}

/** Each target gets the canonical chunks it lacks (all of them for a version being built). */
export async function upsertMissing(ctx: SyncContext, canonical: readonly string[]): Promise<void> {
  for (const target of ctx.deps.targets) {
    await inSlices(canonical, SLICE, async (slice) => {
      const stored = await target.index.fetch(slice);
      await upsertCanonical(ctx, target, missingFrom(slice, stored));
    });
  }
}

/** Writes canonical chunks into one target: their chunk store entries, then their datapoints. */
export async function upsertCanonical(ctx: SyncContext, target: SyncTarget, hashes: readonly string[]): Promise<void> {
  if (hashes.length === 0) return;
  await embedMissing(ctx, target, hashes);
  const vectors = ctx.vectors.get(target.version) as Map<string, Float32Array>;
  const metadata = await metadataOf(ctx, hashes);
  const datapoints: Datapoint[] = hashes.map((h) => {
    const { restricts, numericRestricts, record } = metadata.get(h) as Metadata;
    const sparse = target.sparse ? documentVector(termsOf(ctx, h, record.text), target.sparse) : undefined;
    return { id: h, vector: vectors.get(h) as Float32Array, ...(sparse ? { sparse } : {}), restricts, numericRestricts };
  });
  // The entry first: a datapoint any search can find always has one.
  await ctx.deps.chunks.put(ctx.lease as CorpusLease, new Map(hashes.map((h) => [h, (metadata.get(h) as Metadata).record])));
  await ensureHeld(ctx);
  await target.index.upsert(datapoints);
  ctx.counts.indexWrites += datapoints.length;
}

/** A chunk's BM25 terms (its text starts with its heading path, so headings count), counted once per sync. */
function termsOf(ctx: SyncContext, h: string, text: string): TermCounts {
  let terms = ctx.terms.get(h);
  if (!terms) ctx.terms.set(h, (terms = countTerms(text)));
  return terms;
}
