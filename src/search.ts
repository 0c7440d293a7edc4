import { z } from "zod";
import type { IndexFilter, Neighbor } from "../indexer/indexes/vector-index.js";
import { InvalidRequestError } from "../core/errors.js";
import { versionNameSchema } from "../indexer/lifecycle/versions.js";
import { documentIdSchema } from "./queues/ingest-queue.js";
import type { Runtime } from "./runtime.js";

const oneOrMany = <T extends z.ZodType>(schema: T) => z.union([schema, z.array(schema).min(1).max(100)]);

export const searchRequestSchema = z.strictObject({
  query: z.string().trim().min(1, "query must not be empty").max(8192),
  /** Search this index version instead of the live one (operators comparing green and blue). */
  index: versionNameSchema.optional(),
  k: z.number().int().min(1).optional(),
  filter: z
    .strictObject({
      documentId: oneOrMany(documentIdSchema).optional(),
      tags: z.array(z.string().min(1)).min(1).max(100).optional(),
      contentType: oneOrMany(z.string().min(1)).optional(),
    })
    .optional(),
});

export type SearchRequest = z.infer<typeof searchRequestSchema>;

export interface SearchResult {
  rank: number;
  score: number;
  chunkId: string;
  /** The document that speaks for this chunk (the smallest id among those that contain it). */
  documentId: string;
  /** Every document that contains this text, or a near-duplicate of it. */
  documentIds: string[];
  text: string;
  title: string;
  source: string;
  headingPath: string[];
  pageStart?: number;
  pageEnd?: number;
  tags: string[];
  contentType: string;
}

export interface SearchResponse {
  index: string;
  k: number;
  results: SearchResult[];
}

/**
 * Resolves the alias once, then answers from exactly that version, with that
 * version's embedder: a swap during the request changes nothing in its answer.
 */
export async function search(runtime: Pick<Runtime, "config" | "catalog">, request: SearchRequest): Promise<SearchResponse> {
  const { config } = runtime;
  const target = request.index ? await runtime.catalog.open(request.index) : (await runtime.catalog.live()).version;
  const k = request.k ?? target.record.config.defaultTopK;
  if (k > config.index.maxTopK) throw new InvalidRequestError(`k must be at most ${config.index.maxTopK} (index.maxTopK); got ${k}`);
  const [vector] = await target.embedder.embed([request.query], { purpose: "query" });
  const filter = narrow(toIndexFilter(request.filter), target.record.config.filter);
  if (filter === "nothing") return { index: target.record.version, k, results: [] };
  const neighbors = await target.index.query(vector as Float32Array, { k, filter });
  return { index: target.record.version, k, results: neighbors.map(toResult) };
}

/** The version's pinned filter, narrowed by the request's: where both restrict a field, only values in both pass. */
function narrow(request: IndexFilter | undefined, pinned: { tags?: string[]; contentTypes?: string[] } | undefined): IndexFilter | undefined | "nothing" {
  if (!pinned) return request;
  const both = (a: string[] | undefined, b: string[] | undefined) => (a && b ? a.filter((x) => b.includes(x)) : (a ?? b));
  const tags = both(request?.tags, pinned.tags);
  const contentTypes = both(request?.contentTypes, pinned.contentTypes);
  if (tags?.length === 0 || contentTypes?.length === 0) return "nothing";
  return { ...request, ...(tags ? { tags } : {}), ...(contentTypes ? { contentTypes } : {}) };
}

function toIndexFilter(filter: SearchRequest["filter"]): IndexFilter | undefined {
  if (!filter) return undefined;
  const list = (value: string | string[] | undefined) => (value === undefined ? undefined : Array.isArray(value) ? value : [value]);
  return { documentIds: list(filter.documentId), tags: filter.tags, contentTypes: list(filter.contentType) };
}

function toResult(neighbor: Neighbor, position: number): SearchResult {
  const p = neighbor.payload as Record<string, unknown>;
  return {
    rank: position + 1,
    score: Number(neighbor.score.toFixed(6)),
    chunkId: neighbor.id,
    documentId: String(p.documentId ?? neighbor.restricts.documentIds[0] ?? ""),
    documentIds: neighbor.restricts.documentIds,
    text: String(p.text ?? ""),
    title: String(p.title ?? ""),
    source: String(p.source ?? ""),
    headingPath: Array.isArray(p.headingPath) ? p.headingPath.map(String) : [],
    ...(typeof p.pageStart === "number" ? { pageStart: p.pageStart, pageEnd: Number(p.pageEnd ?? p.pageStart) } : {}),
    tags: neighbor.restricts.tags,
    contentType: String(p.contentType ?? neighbor.restricts.contentTypes[0] ?? ""),
  };
}
