import { inSlices } from "../../core/yield.js";
import type { StoredRestricts } from "../indexes/vector-index.js";
import { classify } from "./classify.js";
import { diffChunks } from "./diff.js";
import { embedInto } from "./embed.js";
import type { ManifestChunk } from "./manifest.js";
import type { JobProgress } from "./progress.js";
import { onlyMine } from "./release.js";
import { SLICE, signed, type SyncContext } from "./sync-context.js";

/**
 * Embedding before the corpus lock, so the slow part does not hold other jobs
 * up: a guess, from the registry and the indexes read without the lock, at
 * the chunks that will need a vector. A wrong guess costs an embedding (or
 * one made later, under the lock), never a wrong write.
 */

type OnProgress = ((progress: JobProgress) => Promise<void>) | undefined;

/**
 * Chunks added to the document that some target lacks and that are not known
 * near-duplicates: those that will most likely need a vector. Pure.
 */
export function lackingVectors(added: readonly string[], knownDuplicates: ReadonlyMap<string, string>, held: ReadonlyArray<ReadonlyMap<string, StoredRestricts>>): string[] {
  return added.filter((h) => !knownDuplicates.has(h) && held.some((stored) => !stored.has(h)));
}

/** Before the lock: embeds, for each target, the chunks likely to need a vector that it lacks. */
export async function embedAhead(ctx: SyncContext, hashes: readonly string[], onProgress: OnProgress): Promise<void> {
  const { likely, held } = await likelyNew(ctx, hashes);
  await onProgress?.({ stage: "embedding", percent: 30, detail: `${likely.length} new chunks to embed` });
  for (const [i, target] of ctx.deps.targets.entries()) {
    const wanted = likely.filter((c) => !held[i]?.has(c.hash));
    let done = 0;
    await inSlices(wanted, SLICE, async (slice) => {
      await embedInto(ctx, target, new Map(slice.map((c) => [c.hash, c.text])), (n) =>
        onProgress?.({ stage: "embedding", percent: 30 + Math.round((50 * (done + n)) / Math.max(1, wanted.length)), detail: `${done + n}/${wanted.length} chunks for ${target.version}` }),
      );
      done += slice.length;
    });
  }
}

/** A guess, from the registry and indexes without the lock, at the chunks that will be indexed: new to the targets, and no near-duplicate of an indexed chunk that stays. */
async function likelyNew(ctx: SyncContext, hashes: readonly string[]): Promise<{ likely: ManifestChunk[]; held: Array<Map<string, StoredRestricts>> }> {
  const { registry, config, targets } = ctx.deps;
  const before = diffChunks(await registry.docRefs(ctx.d), hashes);
  const knownDup = await registry.dupOf(before.added);
  const leavingBefore = await onlyMine(ctx, before.removed);
  const held = await Promise.all(targets.map((t) => t.index.fetch(before.added)));
  const unknown = lackingVectors(before.added, knownDup, held).map((h) => ctx.byHash.get(h) as ManifestChunk);
  const preview = config.dedupe.nearDuplicates ? await classify(ctx, await signed(ctx, unknown), leavingBefore) : new Map<string, string>();
  return { likely: unknown.filter((c) => !preview.has(c.hash)), held };
}

