import { z } from "zod";
import { fusionMethodSchema, retrievalModeSchema, type RetrievalMode } from "../config/schema.js";
import type { FusionMethod, IndexFilter } from "../indexer/indexes/vector-index.js";
import { queryFusion, queryMode, queryVersion } from "../indexer/query-version.js";
import { matchedTerms } from "../indexer/sparse/analyze.js";
import { createChunkStore, type ChunkRecord } from "../indexer/sync/chunk-store.js";
import { registryPrefix } from "../indexer/sync/profile.js";
import { InvalidRequestError } from "../core/errors.js";
import { versionNameSchema } from "../indexer/lifecycle/versions.js";
import { documentIdSchema } from "./queues/ingest-queue.js";
import type { Runtime } from "./runtime.js";
import { atLeast, bestPerDocument, candidatesFor } from "./search-shapes.js";

const oneOrMany = <T extends z.ZodType>(schema: T) => z.union([schema, z.array(schema).min(1).max(100)]);

export const searchRequestSchema = z.strictObject({
  query: z.string().trim().min(1, "query must not be empty").max(8192),
  /** Search this index version instead of the live one (operators comparing green and blue). */
  index: versionNameSchema.optional(),
  k: z.number().int().min(1).optional(),
  /** Retrieve this way instead of the version's own mode, to compare (a dense-only version answers only dense). */
  mode: retrievalModeSchema.optional(),
  /** Fuse a hybrid answer this way instead of the version's own fusion, to compare. */
  fusion: fusionMethodSchema.optional(),
  filter: z
    .strictObject({
      documentId: oneOrMany(documentIdSchema).optional(),
      tags: z.array(z.string().min(1)).min(1).max(100).optional(),
      contentType: oneOrMany(z.string().min(1)).optional(),
    })
    .optional(),
  /** "document": each document's best chunk, up to k documents; "chunk" (the default): the k best chunks. */
  group: z.enum(["chunk", "document"], { error: 'group must be "chunk" or "document"' }).optional(),
  /** Hits scored below this are left out. */
  minScore: z.number({ error: "minScore must be a number (hits scored below it are left out)" }).optional(),
});

export type SearchRequest = z.infer<typeof searchRequestSchema>;

/** One hit: where it ranks, and what the chunk store holds of the chunk (see indexer/sync/chunk-store.ts). */
export interface SearchResult extends ChunkRecord {
  rank: number;
  /** Cosine similarity (dense), BM25 score (text) or the fused score (hybrid: 0-1 by relative score, about 1/61 at best by rrf). */
  score: number;
  chunkId: string;
  /** Text mode: the query's terms (as BM25 analyses them) the chunk holds. */
  highlights?: string[];
}

export interface SearchResponse {
  index: string;
  /** How the answer was retrieved: the version's mode, or the one the request asked for. */
  mode: RetrievalMode;
  /** Hybrid: how the two rankings were fused (the version's fusion, or the one the request asked for). */
  fusion?: FusionMethod;
  k: number;
  results: SearchResult[];
}

/**
 * Resolves the alias once (from memory in the steady state: see
 * indexer/lifecycle/serving.ts), then answers from exactly that version, with
 * that version's embedder and retrieval mode (../indexer/query-version.ts): a
 * swap during the request changes nothing in its answer. One index query, then
 * one chunk store lookup for all hits.
 */
export async function search(runtime: Pick<Runtime, "config" | "catalog" | "redis">, request: SearchRequest): Promise<SearchResponse> {
  const { config } = runtime;
  const target = await runtime.catalog.serving(request.index);
  const k = request.k ?? target.record.config.defaultTopK;
  if (k > config.index.maxTopK) throw new InvalidRequestError(`k must be at most ${config.index.maxTopK} (index.maxTopK); got ${k}`);
  const mode = queryMode(target.record, request.mode);
  const filter = narrow(requestFilter(request.filter), target.record.config.filter);
  const method = queryFusion(target.record, mode, request.fusion);
  const fusion = method ? { fusion: method } : {};
  if (filter === "nothing") return { index: target.record.version, mode, ...fusion, k, results: [] };
  const [neighbors = []] = await queryVersion(target, [request.query], { k: candidatesFor({ k, group: request.group, maxTopK: config.index.maxTopK }), filter: toIndexFilter(filter), mode, ...fusion });
  const records = await createChunkStore(runtime.redis, registryPrefix(config.redis.prefix, target.profile)).get(neighbors.map((n) => n.id));
  // A hit without an entry left the index between the query and the lookup (or is a failed version's leftover): nothing to show.
  const shown = neighbors.flatMap((n) => {
    const record = records.get(n.id);
    return record ? [{ neighbor: n, record }] : [];
  });
  const highlights = (text: string) => (mode === "text" ? { highlights: matchedTerms(request.query, text) } : {});
  const hits = shown.map(({ neighbor, record }) => ({ score: Number(neighbor.score.toFixed(6)), chunkId: neighbor.id, ...record, ...highlights(record.text) }));
  return { index: target.record.version, mode, ...fusion, k, results: shaped(hits, request, k).map((hit, i) => ({ rank: i + 1, ...hit })) };
}

/** The hits the request's shape keeps (minScore on the scores shown, then one per document when grouping), at most k. */
function shaped<T extends { score: number; documentId: string }>(hits: readonly T[], request: SearchRequest, k: number): readonly T[] {
  const strong = atLeast(hits, request.minScore);
  return request.group === "document" ? bestPerDocument(strong, k) : strong;
}

/** What a search may be restricted to: any of these documents, any of these tags, any of these content types. */
interface Restriction {
  documentIds?: string[];
  tags?: string[];
  contentTypes?: string[];
}

/** The version's pinned filter, narrowed by the request's: where both restrict a field, only values in both pass. */
function narrow(request: Restriction | undefined, pinned: { tags?: string[]; contentTypes?: string[] } | undefined): Restriction | undefined | "nothing" {
  if (!pinned) return request;
  const both = (a: string[] | undefined, b: string[] | undefined) => (a && b ? a.filter((x) => b.includes(x)) : (a ?? b));
  const tags = both(request?.tags, pinned.tags);
  const contentTypes = both(request?.contentTypes, pinned.contentTypes);
  if (tags?.length === 0 || contentTypes?.length === 0) return "nothing";
  return { ...request, ...(tags ? { tags } : {}), ...(contentTypes ? { contentTypes } : {}) };
}

function requestFilter(filter: SearchRequest["filter"]): Restriction | undefined {
  if (!filter) return undefined;
  const list = (value: string | string[] | undefined) => (value === undefined ? undefined : Array.isArray(value) ? value : [value]);
  return { documentIds: list(filter.documentId), tags: filter.tags, contentTypes: list(filter.contentType) };
}

/** Each restricted field becomes an allow list of its namespace. */
function toIndexFilter(restriction: Restriction | undefined): IndexFilter | undefined {
  if (!restriction) return undefined;
  const allow = (values: string[] | undefined) => (values ? { allow: values } : undefined);
  return { restricts: { documentIds: allow(restriction.documentIds), tags: allow(restriction.tags), contentTypes: allow(restriction.contentTypes) } };
}
