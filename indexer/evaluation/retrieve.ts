import type { Redis } from "ioredis";
import type { IndexFilter } from "../indexes/vector-index.js";
import { queryVersion, type VersionQuery } from "../query-version.js";
import type { OpenVersion } from "../lifecycle/catalog.js";
import { createChunkStore } from "../sync/chunk-store.js";
import { registryPrefix } from "../sync/profile.js";
import type { ChunkHit } from "./rankings.js";

/**
 * Retrieval for an evaluation: what a search of one version returns, without
 * the public API's k ceiling (index.maxTopK) and with the scores unrounded, so
 * the run file and the in-process metrics see the same numbers. The version's
 * own embedder, index, retrieval mode, pinned filter and chunk store, as
 * src/search.ts uses them (indexer/ cannot import src/).
 */
export interface RetrievedChunk extends ChunkHit {
  /** The document that speaks for the chunk. */
  documentId: string;
  text: string;
}

/** Questions embedded (and their term statistics read) per call: one request per batch, not per question. */
const EMBED_BATCH = 64;

export interface RetrieveDeps {
  redis: Redis;
  /** config.redis.prefix */
  redisPrefix: string;
}

/** The top k chunks of each query, in the index's order (in the version's retrieval mode and fusion, or those `how` names); `onQuery` after each query answered. */
export async function retrieveAll(
  deps: RetrieveDeps,
  target: OpenVersion,
  queries: readonly string[],
  k: number,
  onQuery: (done: number) => Promise<void> | void = () => undefined,
  how: Pick<VersionQuery, "mode" | "fusion"> = {},
): Promise<RetrievedChunk[][]> {
  const chunks = createChunkStore(deps.redis, registryPrefix(deps.redisPrefix, target.profile));
  const filter = pinnedFilter(target);
  const out: RetrievedChunk[][] = [];
  for (let start = 0; start < queries.length; start += EMBED_BATCH) {
    for (const neighbors of await queryVersion(target, queries.slice(start, start + EMBED_BATCH), { k, filter, ...how })) {
      const records = await chunks.get(neighbors.map((n) => n.id));
      // A hit without a chunk store entry left the index meanwhile: search would not show it either.
      out.push(
        neighbors.flatMap((n) => {
          const record = records.get(n.id);
          return record ? [{ chunkId: n.id, score: n.score, documentId: record.documentId, documentIds: record.documentIds, text: record.text }] : [];
        }),
      );
      await onQuery(out.length);
    }
  }
  return out;
}

/** The restriction the version pins (every search of it is restricted so). */
function pinnedFilter(target: OpenVersion): IndexFilter | undefined {
  const pinned = target.record.config.filter;
  if (!pinned) return undefined;
  const allow = (values: string[] | undefined) => (values ? { allow: values } : undefined);
  return { restricts: { tags: allow(pinned.tags), contentTypes: allow(pinned.contentTypes) } };
}
