import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
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
});

/** A new index of `dimensions`, deployed on the shared endpoint under an id of its own. */
async function open(dimensions: number, options: Partial<VertexIndexOptions> = {}): Promise<VertexIndex> {
  const { index } = await operations.wait("createIndex", await operations.startCreateIndex(PARENT, indexSpec(dimensions)));
  const deployedIndexId = `ragops_t${(deployments += 1)}`;
  const deploying = await operations.startDeployIndex(indexEndpoint, { index: index as string, deployedIndexId, displayName: deployedIndexId }, { machineType: "e2-standard-2", minReplicaCount: 1, maxReplicaCount: 1 });
  await operations.wait("deployIndex", deploying as string);
  const adapter = createVertexIndex({ location: "us-central1", vertexApiEndpoint: emulator.endpoint, index: index as string, indexEndpoint, deployedIndexId, dimensions, clients, ...FAST, ...options });
  opened.push(adapter);
  return adapter;
}

vectorIndexConformance("Vertex AI Vector Search through the emulator", (dimensions) => open(dimensions), { sparse: false });
vectorIndexConformance("Vertex AI Vector Search, one datapoint per request", (dimensions) => open(dimensions, { upsertBatchSize: 1, removeBatchSize: 1, readBatchSize: 1 }), { sparse: false });

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
