import { isDeepStrictEqual } from "node:util";
import type { NumericRestricts, Restricts, StoredRestricts } from "../indexes/vector-index.js";
import type { ChunkRecord } from "./chunk-store.js";
import type { CorpusLease } from "./corpus-lock.js";
import { primaryDocument } from "./diff.js";
import type { DocMeta } from "./registry.js";
import { chunkOf, ensureHeld, type FoundChunk, type SyncContext } from "./sync-context.js";

/**
 * What sync writes of an indexed chunk besides its vector: restricts in each
 * index, and the chunk store entry searches show. Only what stays put while
 * the text stays put goes in (no version, no char offsets: an insertion above
 * would rewrite every chunk below); offsets are in the manifest.
 */
export interface Metadata extends StoredRestricts {
  record: ChunkRecord;
}

/** Every document that references a chunk directly or through one of its near-duplicates, sorted. Pure. */
export function documentsReaching(
  h: string,
  direct: ReadonlyMap<string, ReadonlySet<string>>,
  duplicates: ReadonlyMap<string, ReadonlySet<string>>,
  duplicateRefs: ReadonlyMap<string, ReadonlySet<string>>,
): string[] {
  const docs = new Set(direct.get(h) ?? []);
  for (const x of duplicates.get(h) ?? []) for (const doc of duplicateRefs.get(x) ?? []) docs.add(doc);
  return [...docs].sort();
}

/** Restricts of a chunk held by these documents: their ids, tags and content types, sorted. Pure. */
export function restrictsOf(documentIds: readonly string[], metas: ReadonlyMap<string, DocMeta>): Restricts {
  const tags = new Set<string>();
  const contentTypes = new Set<string>();
  for (const id of documentIds) {
    const meta = metas.get(id);
    if (!meta) continue;
    for (const tag of meta.tags) tags.add(tag);
    contentTypes.add(meta.contentType);
  }
  return { documentIds: [...documentIds], tags: [...tags].sort(), contentTypes: [...contentTypes].sort() };
}

/** The chunk store entry: the chunk as its primary document has it, with the restricts' documents and tags. Pure. */
export function recordOf(found: FoundChunk | undefined, primary: string, restricts: Restricts): ChunkRecord {
  return {
    documentId: found?.documentId ?? primary,
    documentIds: restricts.documentIds,
    text: found?.chunk.text ?? "",
    title: found?.manifest?.title ?? "",
    source: found?.manifest?.source ?? "",
    headingPath: found?.chunk.headingPath ?? [],
    ...(found?.chunk.pageStart !== undefined ? { pageStart: found.chunk.pageStart, pageEnd: found.chunk.pageEnd ?? found.chunk.pageStart } : {}),
    tags: restricts.tags,
    contentType: found?.manifest?.contentType ?? restricts.contentTypes[0] ?? "",
  };
}

/** The primary document's date as epoch seconds, when it has a valid one. Pure. */
export function numericOf(date: string | undefined): NumericRestricts {
  const ms = date ? Date.parse(date) : Number.NaN;
  return Number.isFinite(ms) ? { date: Math.floor(ms / 1000) } : {};
}

/**
 * Metadata of indexed chunks. Restricts: every document that references each,
 * or one of its near-duplicates, their tags and content types. Entry and date:
 * the chunk as its primary document (smallest id among its direct references)
 * has it, so they do not depend on ingest order.
 */
export async function metadataOf(ctx: SyncContext, hashes: readonly string[]): Promise<Map<string, Metadata>> {
  const { registry } = ctx.deps;
  const direct = await registry.refs(hashes);
  const dups = await registry.dupsOfMany(hashes);
  const dupRefs = await registry.refs([...new Set([...dups.values()].flatMap((set) => [...set]))]);
  const documentsOf = (h: string) => documentsReaching(h, direct, dups, dupRefs);
  const metas = await registry.docMeta([...new Set(hashes.flatMap(documentsOf))]);
  const out = new Map<string, Metadata>();
  for (const h of hashes) {
    const restricts = restrictsOf(documentsOf(h), metas);
    const primary = primaryDocument(direct.get(h) ?? []) ?? ctx.d;
    const found = await chunkOf(ctx, primary, h);
    out.set(h, { restricts, numericRestricts: numericOf(found?.manifest?.date), record: recordOf(found, primary, restricts) });
  }
  return out;
}

export type RestrictsUpdate = { id: string } & StoredRestricts;

export interface MetadataRefresh {
  /** Chunk store entries that differ from what is wanted. */
  entries: Map<string, ChunkRecord>;
  /** Per target, datapoints it holds whose restricts differ from what is wanted. */
  restricts: RestrictsUpdate[][];
  /** Per target, datapoints whose restricts or entry change (metadata writes). */
  writes: number[];
}

/**
 * What a refresh of these indexed chunks writes: entries that differ, and per
 * target the restricts that differ of the datapoints it holds (a datapoint it
 * lacks gets an index write, never a restricts update). Pure.
 */
export function planMetadataRefresh(
  present: readonly string[],
  wanted: ReadonlyMap<string, Metadata>,
  held: ReadonlyArray<ReadonlyMap<string, StoredRestricts>>,
  entries: ReadonlyMap<string, ChunkRecord>,
): MetadataRefresh {
  const stale = new Map<string, ChunkRecord>();
  for (const h of present) {
    const record = (wanted.get(h) as Metadata).record;
    if (!isDeepStrictEqual(entries.get(h), record)) stale.set(h, record);
  }
  const restricts = held.map((stored) =>
    present.flatMap((h) => {
      const current = stored.get(h);
      const { restricts, numericRestricts } = wanted.get(h) as Metadata;
      return current && !isDeepStrictEqual(current, { restricts, numericRestricts }) ? [{ id: h, restricts, numericRestricts }] : [];
    }),
  );
  const writes = held.map((stored, i) => {
    const changed = new Set((restricts[i] ?? []).map((u) => u.id));
    return changed.size + [...stale.keys()].filter((h) => stored.has(h) && !changed.has(h)).length;
  });
  return { entries: stale, restricts, writes };
}

/**
 * Step 3: writes restricts (in each target) and chunk store entries of
 * indexed chunks where they differ from what is held. Counts, per target,
 * the datapoints whose restricts or entry changed.
 */
export async function refreshMetadata(ctx: SyncContext, hashes: readonly string[]): Promise<void> {
  if (hashes.length === 0) return;
  const { deps } = ctx;
  const held = await Promise.all(deps.targets.map((t) => t.index.fetch(hashes)));
  const present = hashes.filter((h) => held.some((stored) => stored.has(h)));
  if (present.length === 0) return;
  const plan = planMetadataRefresh(present, await metadataOf(ctx, present), held, await deps.chunks.get(present));
  if (plan.entries.size === 0 && plan.restricts.every((u) => u.length === 0)) return;
  await deps.chunks.put(ctx.lease as CorpusLease, plan.entries);
  await ensureHeld(ctx);
  for (const [i, target] of deps.targets.entries()) {
    const changed = plan.restricts[i] ?? [];
    if (changed.length) await target.index.updateRestricts(changed);
    ctx.counts.metadataWrites += plan.writes[i] ?? 0;
  }
}
