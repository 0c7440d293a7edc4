import { embedWithCache } from "../embedding-cache.js";
import { chunkOf, type SyncContext } from "./sync-context.js";
import type { SyncTarget } from "./sync-document.js";

/**
 * Embedding under the corpus lock: most vectors were made before it (see
 * embed-ahead.ts); this embeds the few chunks that guess missed.
 */

/** Under the lock: embeds those of these chunks the guess before the lock missed. */
export async function embedMissing(ctx: SyncContext, target: SyncTarget, hashes: readonly string[]): Promise<void> {
  const vectors = ctx.vectors.get(target.version) as Map<string, Float32Array>;
  const texts = new Map<string, string>();
  for (const h of hashes) if (!vectors.has(h)) texts.set(h, (await chunkOf(ctx, ctx.d, h))?.chunk.text ?? "");
  if (texts.size) await embedInto(ctx, target, texts);
}

/** Embeds texts for one target through its cache; the vectors land in ctx.vectors, the counts in ctx.counts. */
export async function embedInto(ctx: SyncContext, target: SyncTarget, texts: ReadonlyMap<string, string>, onProgress?: (done: number) => Promise<void> | undefined): Promise<void> {
  const { batchSize, concurrency } = ctx.deps.config.embedder;
  const embedded = await embedWithCache(target.embedder, target.cache, texts, { batchSize, concurrency, ...(onProgress ? { onProgress } : {}) });
  ctx.counts.embedded += embedded.embedded;
  ctx.counts.cacheHits += embedded.cacheHits;
  const vectors = ctx.vectors.get(target.version);
  for (const [h, v] of embedded.vectors) vectors?.set(h, v);
}
