import type { protos } from "@google-cloud/aiplatform";
import { mapBounded } from "../../core/pool.js";
import { vectorSearchCall, vectorSearchClients, type CallPolicy, type ClientsHandle, type VectorSearchClients, type VectorSearchEndpointConfig } from "./vertex-clients.js";
import { fromWireRestricts, toWireDatapoint, toWireHybridQuery, toWireQuery, toWireRestrictsUpdate, toWireSparseQuery } from "./vertex-datapoints.js";
import { vertexOperations, type OperationPoll, type OperationPolicy, type VertexOperations } from "./vertex-operations.js";
import { InvalidRequestError } from "../../core/errors.js";
import { candidateDepth, fuse, fusionMethod } from "./fusion.js";
import type { TermStatsStore } from "./term-stats.js";
import { DimensionMismatchError, sparseProblem, type Datapoint, type Neighbor, type StoredRestricts, type VectorIndex } from "./vector-index.js";

/**
 * Vertex AI Vector Search as the vector index port: one Vertex index per
 * ragops index version (STREAM_UPDATE, DOT_PRODUCT_DISTANCE on unit-length
 * vectors, so scores are cosine similarities), deployed on the configured
 * index endpoint under the version's own deployedIndexId.
 *
 * - upsert / remove: upsertDatapoints / removeDatapoints, `upsertBatchSize`
 *   datapoints or `removeBatchSize` ids a request, `requestConcurrency`
 *   requests at once. Vectors are checked against the index's dimensions
 *   before anything is sent (a mismatch writes nothing); an id given twice
 *   in one call is sent once, its last datapoint.
 * - updateRestricts: the ids are read first (readIndexDatapoints), those the
 *   index holds are upserted with update mask all_restricts and the vector the
 *   index returned, so the stored vector stays as it is.
 * - fetch: readIndexDatapoints on the deployed index, `readBatchSize` ids a
 *   call (at most 1,000).
 * - sparse vectors: each datapoint's BM25 weights go as its sparse_embedding
 *   beside the dense vector. Vertex keeps no term statistics, so the adapter
 *   counts them in `termStats` (term-stats.ts, in Redis) after each write
 *   Vertex accepted; termStats() answers from there.
 * - query: findNeighbors on the deployed index with the filter as restricts and
 *   numeric restricts; ids and distances only. A dense query sends the feature
 *   vector, a text (sparse-only) query the sparse embedding alone (scores are
 *   Vertex's sparse_distance, the dot product). A hybrid query, with
 *   `hybridFusion` 'ragops' (the default), sends the dense and the sparse
 *   query as two queries of one findNeighbors call, each asking for the
 *   version's candidate depth, and fuses them with fusion.ts: the same
 *   ranking and scores as LanceDB for the same version config. With 'vertex'
 *   it sends one query with rrf.alpha and Vertex fuses; Vertex's rank
 *   constant and depth are its own (not settable), and its answer carries no
 *   fused score, so scores are 1 / (60 + position). Vertex fuses by rank
 *   only, so a version fusing by relative score is fused by ragops either way.
 * - count: the index's indexStats.vectorsCount; Vertex updates it some time
 *   after writes, so it lags them (the emulator does not).
 * - destroy: undeploys the version and deletes its index, following both
 *   operations to their end. The lifecycle runs these as a job instead, with
 *   the operation names recorded (indexer/lifecycle/vertex-resources.ts).
 *
 * Calls are retried on RESOURCE_EXHAUSTED (the stream-update quota),
 * UNAVAILABLE and DEADLINE_EXCEEDED with jittered backoff; INVALID_ARGUMENT
 * is a non-retryable InvalidRequestError with Vertex's words (vertex-clients.ts).
 */
export interface VertexIndexOptions extends VectorSearchEndpointConfig {
  /** Index resource name, projects/<p>/locations/<l>/indexes/<id>. */
  index: string;
  /** Index endpoint resource name, projects/<p>/locations/<l>/indexEndpoints/<id>. */
  indexEndpoint: string;
  deployedIndexId: string;
  dimensions: number;
  /** Datapoints per upsertDatapoints request. @defaultValue 100 */
  upsertBatchSize?: number;
  /** Ids per removeDatapoints request. @defaultValue 1000 */
  removeBatchSize?: number;
  /** Ids per readIndexDatapoints call, at most 1000. @defaultValue 1000 */
  readBatchSize?: number;
  /** Requests one port call has in flight. @defaultValue 4 */
  requestConcurrency?: number;
  /** Attempts per request on RESOURCE_EXHAUSTED, UNAVAILABLE or DEADLINE_EXCEEDED, the first included. @defaultValue 5 */
  maxAttempts?: number;
  /** Ceiling of the first backoff, ms; doubles per retry. @defaultValue 1000 */
  retryBaseDelayMs?: number;
  /** Longest backoff, ms. @defaultValue 30000 */
  retryMaxDelayMs?: number;
  /** Deadline of one request, ms. @defaultValue 60000 */
  timeoutMs?: number;
  /** First wait between two polls of a long-running operation (destroy), ms. @defaultValue 5000 */
  operationPollMs?: number;
  /** Longest wait between two polls, ms. @defaultValue 60000 */
  operationPollMaxMs?: number;
  /** Clients shared with other adapters of the process (closed by their owner); made and owned by this adapter when absent. */
  clients?: ClientsHandle;
  /** Where this version's BM25 term statistics are kept; absent: the adapter refuses sparse vectors (a dense version needs none). */
  termStats?: TermStatsStore;
  /** Who fuses a hybrid query of a version fusing by rrf: ragops (two rankings from one call, fusion.ts) or Vertex (rrf.alpha). @defaultValue "ragops" */
  hybridFusion?: "ragops" | "vertex";
}

/** The port, plus the index's names (for the version's record and logs). */
export interface VertexIndex extends VectorIndex {
  readonly index: string;
  readonly deployedIndexId: string;
}

export const MAX_READ_BATCH = 1_000;

export function callPolicy(options: Pick<VertexIndexOptions, "maxAttempts" | "retryBaseDelayMs" | "retryMaxDelayMs" | "timeoutMs">): CallPolicy {
  return { maxAttempts: options.maxAttempts ?? 5, baseDelayMs: options.retryBaseDelayMs ?? 1_000, maxDelayMs: options.retryMaxDelayMs ?? 30_000, timeoutMs: options.timeoutMs ?? 60_000 };
}

export function operationPolicy(options: Pick<VertexIndexOptions, "maxAttempts" | "retryBaseDelayMs" | "retryMaxDelayMs" | "timeoutMs" | "operationPollMs" | "operationPollMaxMs">): OperationPolicy {
  return { ...callPolicy(options), pollMs: options.operationPollMs ?? 5_000, pollMaxMs: options.operationPollMaxMs ?? 60_000 };
}

export function createVertexIndex(options: VertexIndexOptions): VertexIndex {
  const owned = options.clients === undefined;
  const clients = options.clients ?? vectorSearchClients(options);
  const policy = callPolicy(options);
  const upsertBatch = options.upsertBatchSize ?? 100;
  const removeBatch = options.removeBatchSize ?? 1_000;
  const readBatch = Math.min(options.readBatchSize ?? MAX_READ_BATCH, MAX_READ_BATCH);
  const concurrency = options.requestConcurrency ?? 4;
  const { index, indexEndpoint, deployedIndexId, dimensions, termStats } = options;
  const hybridFusion = options.hybridFusion ?? "ragops";
  const call = <T>(what: string, fn: (c: VectorSearchClients, callOptions: { timeout: number }) => Promise<T>) => vectorSearchCall(what, policy, async (callOptions) => fn(await clients.get(), callOptions));
  const each = async <T>(items: readonly T[], size: number, fn: (batch: T[]) => Promise<void>) => {
    const batches: T[][] = [];
    for (let i = 0; i < items.length; i += size) batches.push(items.slice(i, i + size));
    await mapBounded(batches, concurrency, fn);
  };
  const checkDimensions = (vector: ArrayLike<number>, what: string) => {
    if (vector.length !== dimensions) throw new DimensionMismatchError(dimensions, vector.length, `${what} has ${vector.length} dimensions, Vertex index ${index} holds ${dimensions}`);
  };

  /** The datapoints the deployed index holds of these ids. */
  const read = async (ids: readonly string[]): Promise<protos.google.cloud.aiplatform.v1.IIndexDatapoint[]> => {
    const found: protos.google.cloud.aiplatform.v1.IIndexDatapoint[] = [];
    await each([...new Set(ids)], readBatch, async (batch) => {
      const [response] = await call(`reading ${batch.length} datapoints of ${deployedIndexId}`, async (c, callOptions) => (await c.match(indexEndpoint)).readIndexDatapoints({ indexEndpoint, deployedIndexId, ids: batch }, callOptions));
      found.push(...(response.datapoints ?? []));
    });
    return found;
  };

  let operations: VertexOperations | undefined;
  const waitFor = async (start: Promise<string | undefined>, kind: "undeployIndex" | "deleteIndex") => {
    const name = await start;
    if (name) await (operations as VertexOperations).wait(kind, name);
  };

  return {
    name: `vertex:${deployedIndexId}`,
    dimensions,
    index,
    deployedIndexId,
    upsert: async (datapoints) => {
      for (const d of datapoints) {
        if (!d.sparse) continue;
        if (!termStats) throw noTermStats(`datapoint ${d.id} has a sparse vector`);
        const problem = sparseProblem(d.sparse);
        if (problem) throw new InvalidRequestError(`datapoint ${d.id} has a sparse vector Vertex cannot hold: ${problem}`, { details: { id: d.id } });
      }
      for (const d of datapoints) checkDimensions(d.vector, `the vector of ${d.id}`);
      const latest = [...new Map(datapoints.map((d): [string, Datapoint] => [d.id, d])).values()];
      await each(latest, upsertBatch, async (batch) => {
        await call(`writing ${batch.length} datapoints to index ${index}`, (c, callOptions) => c.index.upsertDatapoints({ index, datapoints: batch.map(toWireDatapoint) }, callOptions));
        // Counted once Vertex holds them; a datapoint without a sparse vector drops what its id counted before.
        await termStats?.record(batch);
      });
    },
    updateRestricts: async (updates) => {
      if (updates.length === 0) return;
      const held = new Map((await read(updates.map((u) => u.id))).map((d) => [d.datapointId as string, d]));
      const latest = new Map(updates.filter((u) => held.has(u.id)).map((u) => [u.id, u]));
      const wire = [...latest.values()].map((u) => toWireRestrictsUpdate(u.id, u, held.get(u.id)?.featureVector ?? []));
      await each(wire, upsertBatch, async (batch) => {
        await call(`updating the restricts of ${batch.length} datapoints in index ${index}`, (c, callOptions) => c.index.upsertDatapoints({ index, datapoints: batch, updateMask: { paths: ["all_restricts"] } }, callOptions));
      });
    },
    remove: async (ids) => {
      await each([...new Set(ids)], removeBatch, async (batch) => {
        await call(`removing ${batch.length} datapoints from index ${index}`, (c, callOptions) => c.index.removeDatapoints({ index, datapointIds: batch }, callOptions));
        await termStats?.forget(batch);
      });
    },
    fetch: async (ids) => new Map((await read(ids)).map((d): [string, StoredRestricts] => [d.datapointId as string, fromWireRestricts(d)])),
    query: async (vector, queryOptions) => {
      const { sparse, fusion, k, filter } = queryOptions;
      if (sparse && !termStats) throw noTermStats("a sparse (text or hybrid) query was asked");
      const problem = sparse ? sparseProblem(sparse) : undefined;
      if (problem) throw new InvalidRequestError(`the sparse query vector cannot be asked: ${problem}`);
      const ask = async (queries: protos.google.cloud.aiplatform.v1.FindNeighborsRequest.IQuery[]) => {
        const [response] = await call(`querying ${deployedIndexId}`, async (c, callOptions) => (await c.match(indexEndpoint)).findNeighbors({ indexEndpoint, deployedIndexId, queries, returnFullDatapoint: false }, callOptions));
        return queries.map((_, i) => response.nearestNeighbors?.[i]?.neighbors ?? []);
      };
      const sparseHits = (neighbors: protos.google.cloud.aiplatform.v1.FindNeighborsResponse.INeighbor[]): Neighbor[] =>
        neighbors.map((n) => ({ id: n.datapoint?.datapointId ?? "", score: n.sparseDistance ?? 0 })).sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      const denseHits = (neighbors: protos.google.cloud.aiplatform.v1.FindNeighborsResponse.INeighbor[]): Neighbor[] => neighbors.map((n) => ({ id: n.datapoint?.datapointId ?? "", score: n.distance ?? 0 }));
      if (vector === null) {
        if (!sparse) throw new InvalidRequestError("a query needs a dense vector, a sparse one, or both");
        if (sparse.dimensions.length === 0) return [];
        const [hits] = await ask([toWireSparseQuery(sparse, { k, filter })]);
        return sparseHits(hits ?? []).slice(0, k);
      }
      checkDimensions(vector, "the query vector");
      if (!sparse) {
        const [hits] = await ask([toWireQuery(vector, { k, filter })]);
        return denseHits(hits ?? []).slice(0, k);
      }
      if (!fusion) throw new InvalidRequestError("a query with a dense and a sparse vector needs fusion (the version's rrf settings) to combine their rankings");
      // Vertex fuses by reciprocal rank only: a relative-score version is fused here whatever hybridFusion says.
      if (hybridFusion === "vertex" && fusionMethod(fusion) === "rrf") {
        const [hits] = await ask([toWireHybridQuery(vector, sparse, { k, alpha: fusion.alpha, filter })]);
        return (hits ?? []).slice(0, k).map((n, i) => ({ id: n.datapoint?.datapointId ?? "", score: 1 / (60 + i + 1) }));
      }
      const depth = candidateDepth(fusion, k);
      const queries = [toWireQuery(vector, { k: depth, filter }), ...(sparse.dimensions.length > 0 ? [toWireSparseQuery(sparse, { k: depth, filter })] : [])];
      const [dense, sparseSide] = await ask(queries);
      return fuse(denseHits(dense ?? []), sparseHits(sparseSide ?? []), fusion, k);
    },
    termStats: async (dimensions) => {
      if (!termStats) throw noTermStats("term statistics were asked");
      return termStats.stats(dimensions);
    },
    count: async () => {
      const [resource] = await call(`reading index ${index}`, (c, callOptions) => c.index.getIndex({ name: index }, callOptions));
      return Number(String(resource.indexStats?.vectorsCount ?? 0));
    },
    close: async () => {
      if (owned) await clients.close();
    },
    destroy: async () => {
      operations ??= vertexOperations(clients, operationPolicy(options));
      await waitFor(operations.startUndeployIndex(indexEndpoint, deployedIndexId), "undeployIndex");
      await waitFor(operations.startDeleteIndex(index), "deleteIndex");
      await termStats?.clear();
    },
  };
}

export type { OperationPoll };

/** Sparse vectors need their term statistics kept somewhere (term-stats.ts); an adapter opened without a store (a dense version) refuses them plainly. */
function noTermStats(what: string): InvalidRequestError {
  return new InvalidRequestError(`${what}, but this Vertex AI Vector Search index was opened without a term statistics store, as a dense version is: only versions in retrieval mode hybrid or text hold sparse vectors`);
}
