import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { reciprocalRankFusion, relativeScoreFusion } from "../indexer/indexes/fusion.js";
import { createRedisTermStats } from "../indexer/indexes/term-stats.js";
import { vectorSearchClients, type ClientsHandle } from "../indexer/indexes/vertex-clients.js";
import { vertexOperations, type VertexIndexSpec, type VertexOperations } from "../indexer/indexes/vertex-operations.js";
import { createVertexIndex, type VertexIndex, type VertexIndexOptions } from "../indexer/indexes/vertex.js";
import { startVertexEmulator, type VertexEmulator } from "../src/dev/vertex-emulator/index.js";
import { vectorIndexConformance } from "./conformance/vector-index.js";

/**
 * The Vertex Vector Search adapter at the wire: the real IndexService,
 * IndexEndpointService and MatchService clients against the in-process
 * emulator. Each index is made as the lifecycle makes one (createIndex, then
 * deployIndex on the shared endpoint, both followed to their end by name).
 */
const PARENT = "projects/ragops-test/locations/us-central1";
const FAST = { maxAttempts: 4, retryBaseDelayMs: 1, retryMaxDelayMs: 5, timeoutMs: 10_000, operationPollMs: 1, operationPollMaxMs: 5 };

let emulator: VertexEmulator;
let clients: ClientsHandle;
let operations: VertexOperations;
let indexEndpoint: string;
let deployments = 0;
const opened: VertexIndex[] = [];
const redis = new Redis(inject("redisUrl"));
const redisPrefix = `test-vertex-index-${randomUUID()}`;

export function indexSpec(dimensions: number, displayName = "ragops-test"): VertexIndexSpec {
  return { displayName, dimensions, shardSize: "SHARD_SIZE_SMALL", approximateNeighborsCount: 150, algorithm: "bruteForce", leafNodeEmbeddingCount: 1000, leafNodesToSearchPercent: 10 };
}

beforeAll(async () => {
  emulator = await startVertexEmulator();
  clients = vectorSearchClients({ location: "us-central1", vertexApiEndpoint: emulator.endpoint });
  operations = vertexOperations(clients, { maxAttempts: 4, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 10_000, pollMs: 1, pollMaxMs: 5 });
  indexEndpoint = (await operations.wait("createIndexEndpoint", await operations.startCreateIndexEndpoint(PARENT, "ragops-test"))).indexEndpoint as string;
});
afterEach(() => emulator.faults.clear());
afterAll(async () => {
  await Promise.all(opened.map((index) => index.close()));
  await clients.close();
  await emulator.stop();
  const keys = await redis.keys(`${redisPrefix}:*`);
  if (keys.length > 0) await redis.del(...keys);
  await redis.quit();
});

/** A new index of `dimensions`, deployed on the shared endpoint under an id of its own. */
async function open(dimensions: number, options: Partial<VertexIndexOptions> = {}): Promise<VertexIndex> {
  const { index } = await operations.wait("createIndex", await operations.startCreateIndex(PARENT, indexSpec(dimensions)));
  const deployedIndexId = `ragops_t${(deployments += 1)}`;
  const deploying = await operations.startDeployIndex(indexEndpoint, { index: index as string, deployedIndexId, displayName: deployedIndexId }, { machineType: "e2-standard-2", minReplicaCount: 1, maxReplicaCount: 1 });
  await operations.wait("deployIndex", deploying as string);
  // Term statistics in Redis, as a hybrid or text version keeps them (one store per index, like one per version).
  const termStats = createRedisTermStats(redis, redisPrefix, deployedIndexId);
  const adapter = createVertexIndex({ location: "us-central1", vertexApiEndpoint: emulator.endpoint, index: index as string, indexEndpoint, deployedIndexId, dimensions, clients, termStats, ...FAST, ...options });
  opened.push(adapter);
  return adapter;
}

vectorIndexConformance("Vertex AI Vector Search through the emulator", (dimensions) => open(dimensions));
vectorIndexConformance("Vertex AI Vector Search, one datapoint per request", (dimensions) => open(dimensions, { upsertBatchSize: 1, removeBatchSize: 1, readBatchSize: 1 }));
vectorIndexConformance("Vertex AI Vector Search opened without term statistics (a dense version)", (dimensions) => open(dimensions, { termStats: undefined }), { sparse: false });

describe("Vertex vector index at the wire: hybrid queries", () => {
  const at = (degrees: number) => [Math.cos((degrees * Math.PI) / 180), Math.sin((degrees * Math.PI) / 180), 0, 0];
  const sparsePoint = (id: string, degrees: number, weights: Record<number, number>) => ({
    id,
    vector: at(degrees),
    sparse: { dimensions: Object.keys(weights).map(Number), values: Object.values(weights) },
    restricts: { documentIds: [id], tags: [], contentTypes: [] },
    numericRestricts: {},
  });
  const points = [sparsePoint("a", 0, { 9: 1 }), sparsePoint("b", 10, {}), sparsePoint("c", 20, { 1: 1 }), sparsePoint("d", 30, { 1: 2 }), sparsePoint("e", 40, { 1: 3 }), sparsePoint("f", 50, { 1: 0.5, 2: 1 })];
  const query = { dimensions: [1], values: [1] };

  it("asks a hybrid query as one findNeighbors call holding a dense and a sparse query", async () => {
    const index = await open(4);
    await index.upsert(points);
    const before = emulator.calls("FindNeighbors");
    await index.query(at(0), { k: 3, sparse: query, fusion: { k: 60, alpha: 0.5, candidates: 10 } });
    expect(emulator.calls("FindNeighbors") - before).toBe(1);
  });

  it("with hybridFusion 'vertex', lets Vertex fuse by rrf.alpha: the emulator ranks as RRF with constant 60 over every match", async () => {
    const index = await open(4, { hybridFusion: "vertex" });
    await index.upsert(points);
    const dense = await index.query(at(0), { k: 100 });
    const sparseHits = await index.query(null, { k: 100, sparse: query });
    for (const alpha of [0, 0.3, 0.5, 0.8, 1]) {
      const fusion = { k: 60, alpha, candidates: 100 };
      const fused = await index.query(at(0), { k: 4, sparse: query, fusion });
      expect(fused.map((n) => n.id)).toEqual(reciprocalRankFusion(dense, sparseHits, fusion, 4).map((n) => n.id));
      fused.forEach((n, i) => expect(n.score).toBeCloseTo(1 / (61 + i), 12));
    }
  });

  it("with hybridFusion 'vertex', still fuses a relative-score version itself (Vertex fuses by rank only)", async () => {
    const index = await open(4, { hybridFusion: "vertex" });
    await index.upsert(points);
    const fusion = { method: "relative-score" as const, k: 60, alpha: 0.5, candidates: 100 };
    const before = emulator.calls("FindNeighbors");
    const fused = await index.query(at(0), { k: 4, sparse: query, fusion });
    expect(emulator.calls("FindNeighbors") - before).toBe(1);
    const dense = await index.query(at(0), { k: 100 });
    const sparseHits = await index.query(null, { k: 100, sparse: query });
    expect(fused).toEqual(relativeScoreFusion(dense, sparseHits, fusion, 4));
  });

  it("keeps term statistics in Redis, dropped with the index on destroy", async () => {
    const index = await open(4);
    await index.upsert(points);
    expect(await index.termStats([1, 2, 9, 5])).toEqual({ datapoints: 6, frequencies: [4, 1, 1, 0] });
    await index.destroy();
    expect(await redis.exists(`${redisPrefix}:termstats:${index.deployedIndexId}:dp`, `${redisPrefix}:termstats:${index.deployedIndexId}:df`)).toBe(0);
  });
});

describe("Vertex vector index at the wire: failures", () => {
  const unit = (dimensions: number, axis = 0) => Array.from({ length: dimensions }, (_, i) => (i === axis ? 1 : 0));
  const point = (id: string, dimensions = 4) => ({ id, vector: unit(dimensions), restricts: { documentIds: [id], tags: [], contentTypes: [] }, numericRestricts: {} });

  it("retries UNAVAILABLE and RESOURCE_EXHAUSTED and then writes", async () => {
    const index = await open(4);
    const before = emulator.calls("UpsertDatapoints");
    emulator.faults.failNext(1, "UNAVAILABLE", { method: "UpsertDatapoints" });
    emulator.faults.failNext(1, "RESOURCE_EXHAUSTED", { method: "UpsertDatapoints" });
    await index.upsert([point("a")]);
    expect(emulator.calls("UpsertDatapoints") - before).toBe(3);
    expect(await index.count()).toBe(1);
  });

  it("gives up on a quota that stays used up with a retryable error naming the stream-update quota", async () => {
    const index = await open(4);
    emulator.faults.failNext(4, "RESOURCE_EXHAUSTED", { method: "UpsertDatapoints" });
    const error = await index.upsert([point("a")]).catch((e: unknown) => e);
    expect(error).toMatchObject({ retryable: true, status: 503, details: { grpcStatus: "RESOURCE_EXHAUSTED", attempts: 4 } });
    expect((error as Error).message).toContain("MatchingEngineStreamUpdateThroughput");
  });

  it("does not retry INVALID_ARGUMENT, and says what Vertex refused", async () => {
    // An adapter told 4 dimensions on an index that holds 8: the vectors pass its own check, Vertex refuses them.
    const index = await open(8);
    const confused = createVertexIndex({ location: "us-central1", vertexApiEndpoint: emulator.endpoint, index: index.index, indexEndpoint, deployedIndexId: index.deployedIndexId, dimensions: 4, clients, ...FAST });
    const before = emulator.calls("UpsertDatapoints");
    const error = await confused.upsert([point("a")]).catch((e: unknown) => e);
    expect(emulator.calls("UpsertDatapoints") - before).toBe(1);
    expect(error).toMatchObject({ code: "invalid_request", retryable: false, details: { grpcStatus: "INVALID_ARGUMENT" } });
    expect((error as Error).message).toMatch(/^Vertex AI refused writing 1 datapoints to index .*EMBEDDING_SIZE_MISMATCH: Incorrect dimensionality. Expected 8, got 4.*not retried/);
  });

  it("reads at most 1,000 ids a call", async () => {
    const index = await open(4);
    await index.upsert([point("a"), point("b")]);
    const before = emulator.calls("ReadIndexDatapoints");
    const ids = ["a", ...Array.from({ length: 2_400 }, (_, i) => `missing-${i}`), "b"];
    expect([...(await index.fetch(ids)).keys()].sort()).toEqual(["a", "b"]);
    expect(emulator.calls("ReadIndexDatapoints") - before).toBe(3);
  });

  it("undeploys and deletes the index on destroy", async () => {
    const index = await open(4);
    await index.destroy();
    expect(emulator.vectorSearch.deployed(indexEndpoint).has(index.deployedIndexId)).toBe(false);
    expect(emulator.vectorSearch.indexes()).not.toContain(index.index);
    await index.destroy(); // again: nothing left to do
  });
});
