import { helpers, protos, v1 } from "@google-cloud/aiplatform";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ObjectStore } from "../core/object-store.js";
import { vertexClientOptions } from "../indexer/vertex/client-options.js";
import { startGcsEmulator, type GcsEmulator } from "../src/dev/gcs-emulator.js";
import { startVertexEmulator, type VertexEmulator } from "../src/dev/vertex-emulator/index.js";
import { createGcsStore } from "../src/stores/gcs.js";

/**
 * The Vector Search part of the Vertex emulator as the real clients see it:
 * long-running operations that end on a poll, the checks Vertex documents,
 * batch updates read from the GCS emulator, filters and distances.
 */
const PARENT = "projects/p/locations/us-central1";
const INVALID_ARGUMENT = 3;
const NOT_FOUND = 5;
const ALREADY_EXISTS = 6;
const FAILED_PRECONDITION = 9;
const BUCKET = "batches";

let vertex: VertexEmulator;
let gcs: GcsEmulator;
let store: ObjectStore;
let indexes: InstanceType<typeof v1.IndexServiceClient>;
let endpoints: InstanceType<typeof v1.IndexEndpointServiceClient>;
let match: InstanceType<typeof v1.MatchServiceClient>;
let endpoint: string;

beforeAll(async () => {
  gcs = await startGcsEmulator();
  vertex = await startVertexEmulator({ gcs });
  store = createGcsStore({ bucket: BUCKET, apiEndpoint: gcs.url, projectId: "p" });
  const options = await vertexClientOptions({ location: "us-central1", vertexApiEndpoint: vertex.endpoint });
  indexes = new v1.IndexServiceClient(options);
  endpoints = new v1.IndexEndpointServiceClient(options);
  match = new v1.MatchServiceClient(options);
  const [operation] = await endpoints.createIndexEndpoint({ parent: PARENT, indexEndpoint: { displayName: "e" } });
  endpoint = (await operation.promise())[0].name as string;
});
afterAll(async () => {
  await Promise.all([indexes.close(), endpoints.close(), match.close(), store.close()]);
  await vertex.stop();
  await gcs.close();
});

const toValue = (value: object) => helpers.toValue(value) as protos.google.protobuf.IValue;
const config = (dimensions: number, extra: object = {}) => ({ config: { dimensions, distanceMeasureType: "DOT_PRODUCT_DISTANCE", algorithmConfig: { bruteForceConfig: {} }, ...extra } });

async function newIndex(dimensions = 2, options: { method?: "STREAM_UPDATE" | "BATCH_UPDATE"; extra?: object } = {}): Promise<string> {
  const [operation] = await indexes.createIndex({ parent: PARENT, index: { displayName: "i", indexUpdateMethod: options.method ?? "STREAM_UPDATE", metadata: toValue(config(dimensions, options.extra)) } });
  return (await operation.promise())[0].name as string;
}

let deployments = 0;
async function deploy(index: string): Promise<string> {
  const id = `d${(deployments += 1)}`;
  const [operation] = await endpoints.deployIndex({ indexEndpoint: endpoint, deployedIndex: { id, index } });
  await operation.promise();
  return id;
}

async function statusOf(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
    return { code: 0, details: "" };
  } catch (error) {
    // A failed call carries details; a failed operation (operation.promise()) only its message.
    const { code, details, message } = error as { code: number; details?: string; message: string };
    return { code, details: details ?? message };
  }
}

describe("Vertex emulator: long-running operations", () => {
  it("ends an operation on the poll that finishes it, and not before", async () => {
    vertex.vectorSearch.operations.pollsToFinish = 3;
    try {
      const [operation] = await indexes.createIndex({ parent: PARENT, index: { displayName: "slow", indexUpdateMethod: "STREAM_UPDATE", metadata: toValue(config(2)) } });
      const name = operation.name as string;
      expect((await indexes.checkCreateIndexProgress(name)).done).toBe(false);
      expect((await indexes.checkCreateIndexProgress(name)).done).toBe(false);
      expect(vertex.vectorSearch.indexes()).not.toContain(name.split("/operations/")[0]);
      const finished = await indexes.checkCreateIndexProgress(name);
      expect(finished.done).toBe(true);
      expect((finished.result as { name: string }).name).toBe(name.split("/operations/")[0]);
    } finally {
      vertex.vectorSearch.operations.pollsToFinish = 1;
    }
  });

  it("holds every operation while a hold is on, and another client finishes it by name once released", async () => {
    const index = await newIndex();
    const hold = vertex.vectorSearch.operations.hold();
    const [operation] = await endpoints.deployIndex({ indexEndpoint: endpoint, deployedIndex: { id: "held_deploy", index } });
    const polled = hold.polled(2);
    expect((await endpoints.checkDeployIndexProgress(operation.name as string)).done).toBe(false);
    expect((await endpoints.checkDeployIndexProgress(operation.name as string)).done).toBe(false);
    await polled;
    expect(vertex.vectorSearch.deployed(endpoint).has("held_deploy")).toBe(false);
    hold.release();
    const other = new v1.IndexEndpointServiceClient(await vertexClientOptions({ location: "us-central1", vertexApiEndpoint: vertex.endpoint }));
    const finished = await other.checkDeployIndexProgress(operation.name as string);
    await other.close();
    expect(finished.done).toBe(true);
    expect(vertex.vectorSearch.deployed(endpoint).get("held_deploy")).toBe(index);
  });
});

describe("Vertex emulator: IndexService and IndexEndpointService checks", () => {
  it("refuses an index config without dimensions or an algorithm", async () => {
    expect((await statusOf(indexes.createIndex({ parent: PARENT, index: { displayName: "x", metadata: toValue({ config: { algorithmConfig: { bruteForceConfig: {} } } }) } }))).code).toBe(INVALID_ARGUMENT);
    expect((await statusOf(indexes.createIndex({ parent: PARENT, index: { displayName: "x", metadata: toValue({ config: { dimensions: 4 } }) } }))).code).toBe(INVALID_ARGUMENT);
  });

  it("refuses a deployed index id with a hyphen, and one the endpoint already has", async () => {
    const index = await newIndex();
    expect((await statusOf(endpoints.deployIndex({ indexEndpoint: endpoint, deployedIndex: { id: "ragops-v1", index } }))).code).toBe(INVALID_ARGUMENT);
    const id = await deploy(index);
    expect((await statusOf(endpoints.deployIndex({ indexEndpoint: endpoint, deployedIndex: { id, index } }))).code).toBe(ALREADY_EXISTS);
  });

  it("refuses to delete a deployed index, and deletes it once undeployed", async () => {
    const index = await newIndex();
    const id = await deploy(index);
    expect((await statusOf(indexes.deleteIndex({ name: index }))).code).toBe(FAILED_PRECONDITION);
    await (await endpoints.undeployIndex({ indexEndpoint: endpoint, deployedIndexId: id }))[0].promise();
    await (await indexes.deleteIndex({ name: index }))[0].promise();
    expect((await statusOf(indexes.getIndex({ name: index }))).code).toBe(NOT_FOUND);
    expect((await statusOf(endpoints.undeployIndex({ indexEndpoint: endpoint, deployedIndexId: id }))).code).toBe(NOT_FOUND);
  });

  it("refuses stream updates on a BATCH_UPDATE index", async () => {
    const index = await newIndex(2, { method: "BATCH_UPDATE" });
    expect((await statusOf(indexes.upsertDatapoints({ index, datapoints: [{ datapointId: "a", featureVector: [1, 0] }] }))).code).toBe(FAILED_PRECONDITION);
  });

  it("refuses a datapoint of other dimensions, a namespace given twice and an op on a datapoint, writing nothing of the request", async () => {
    const index = await newIndex();
    const refused = async (datapoint: protos.google.cloud.aiplatform.v1.IIndexDatapoint) => statusOf(indexes.upsertDatapoints({ index, datapoints: [{ datapointId: "ok", featureVector: [1, 0] }, datapoint] }));
    expect(await refused({ datapointId: "a", featureVector: [1, 0, 0] })).toMatchObject({ code: INVALID_ARGUMENT, details: expect.stringContaining("EMBEDDING_SIZE_MISMATCH") });
    expect(await refused({ datapointId: "a", featureVector: [1, 0], restricts: [{ namespace: "t", allowList: ["x"] }, { namespace: "t", allowList: ["y"] }] })).toMatchObject({ details: expect.stringContaining("DUPLICATE_NAMESPACE") });
    expect(await refused({ datapointId: "a", featureVector: [1, 0], numericRestricts: [{ namespace: "n", valueInt: 3, op: "LESS" }] })).toMatchObject({ details: expect.stringContaining("OP_IN_DATAPOINT") });
    expect(vertex.vectorSearch.datapoints(index)?.size).toBe(0);
  });
});

describe("Vertex emulator: MatchService", () => {
  it("ranks by dot product on unit vectors, highest first, with restricts, a datapoint's own deny list and numeric restricts of the same kind", async () => {
    const index = await newIndex(2, { extra: { featureNormType: "UNIT_L2_NORM" } });
    await indexes.upsertDatapoints({
      index,
      datapoints: [
        { datapointId: "near", featureVector: [10, 1], restricts: [{ namespace: "color", allowList: ["red"] }], numericRestricts: [{ namespace: "year", valueInt: 2024 }] },
        { datapointId: "far", featureVector: [0, 3], restricts: [{ namespace: "color", allowList: ["red"], denyList: ["blue"] }], numericRestricts: [{ namespace: "year", valueDouble: 2024 }] },
        { datapointId: "blue", featureVector: [1, 1], restricts: [{ namespace: "color", allowList: ["blue"] }] },
      ],
    });
    const id = await deploy(index);
    const ids = async (query: protos.google.cloud.aiplatform.v1.IIndexDatapoint) => {
      const [response] = await match.findNeighbors({ indexEndpoint: endpoint, deployedIndexId: id, queries: [{ datapoint: { featureVector: [1, 0], ...query }, neighborCount: 10 }] });
      return (response.nearestNeighbors?.[0]?.neighbors ?? []).map((n) => [n.datapoint?.datapointId, Number((n.distance ?? 0).toFixed(4))]);
    };
    expect(await ids({})).toEqual([["near", 0.995], ["blue", 0.7071], ["far", 0]]);
    expect(await ids({ restricts: [{ namespace: "color", allowList: ["red", "blue"] }] })).toEqual([["near", 0.995], ["blue", 0.7071]]);
    expect(await ids({ restricts: [{ namespace: "color", denyList: ["red"] }] })).toEqual([["blue", 0.7071]]);
    expect(await ids({ numericRestricts: [{ namespace: "year", valueInt: 2000, op: "GREATER" }] })).toEqual([["near", 0.995]]);
  });

  it("answers sparse queries by dot product in sparse_distance, hybrid ones fused by rrf.alpha with both distances, and refuses both embeddings without rrf", async () => {
    const index = await newIndex(2);
    await indexes.upsertDatapoints({
      index,
      datapoints: [
        { datapointId: "dense-best", featureVector: [1, 0], sparseEmbedding: { dimensions: [7], values: [1] } },
        { datapointId: "sparse-best", featureVector: [0, 1], sparseEmbedding: { dimensions: [7, 4294967295], values: [2, 3] } },
        { datapointId: "sparse-only", sparseEmbedding: { dimensions: [8], values: [5] } },
        { datapointId: "no-sparse", featureVector: [0.5, 0.5] },
      ],
    });
    const id = await deploy(index);
    const ask = async (query: protos.google.cloud.aiplatform.v1.FindNeighborsRequest.IQuery) => {
      const [response] = await match.findNeighbors({ indexEndpoint: endpoint, deployedIndexId: id, queries: [{ neighborCount: 10, ...query }] });
      return (response.nearestNeighbors?.[0]?.neighbors ?? []).map((n) => [n.datapoint?.datapointId, n.distance, n.sparseDistance]);
    };
    expect(await ask({ datapoint: { sparseEmbedding: { dimensions: [7, 4294967295], values: [1, 1] } } })).toEqual([
      ["sparse-best", 0, 5],
      ["dense-best", 0, 1],
    ]);
    expect(await ask({ datapoint: { featureVector: [1, 0], sparseEmbedding: { dimensions: [7], values: [1] } }, rrf: { alpha: 0.5 } })).toEqual([
      ["dense-best", 1, 1],
      ["sparse-best", 0, 2],
      ["no-sparse", 0.5, 0],
    ]);
    expect((await ask({ datapoint: { featureVector: [1, 0], sparseEmbedding: { dimensions: [7], values: [1] } }, rrf: { alpha: 0 } })).map(([name]) => name)).toEqual(["sparse-best", "dense-best"]);
    expect((await statusOf(ask({ datapoint: { featureVector: [1, 0], sparseEmbedding: { dimensions: [7], values: [1] } } }))).code).toBe(INVALID_ARGUMENT);
    expect((await statusOf(ask({ datapoint: { sparseEmbedding: { dimensions: [7, 7], values: [1, 1] } } }))).code).toBe(INVALID_ARGUMENT);
    expect((await statusOf(ask({ datapoint: {} }))).code).toBe(INVALID_ARGUMENT);
  });

  it("reads datapoints by id, at most 1,000 a call, and says so past it", async () => {
    const index = await newIndex();
    await indexes.upsertDatapoints({ index, datapoints: [{ datapointId: "a", featureVector: [1, 0], numericRestricts: [{ namespace: "date", valueDouble: 1.5 }] }] });
    const id = await deploy(index);
    const [read] = await match.readIndexDatapoints({ indexEndpoint: endpoint, deployedIndexId: id, ids: ["a", "missing"] });
    expect(read.datapoints?.map((d) => [d.datapointId, d.featureVector, d.numericRestricts?.[0]?.valueDouble])).toEqual([["a", [1, 0], 1.5]]);
    const tooMany = Array.from({ length: 1001 }, (_, i) => `id${i}`);
    expect((await statusOf(match.readIndexDatapoints({ indexEndpoint: endpoint, deployedIndexId: id, ids: tooMany }))).code).toBe(INVALID_ARGUMENT);
    expect((await statusOf(match.readIndexDatapoints({ indexEndpoint: endpoint, deployedIndexId: "not_deployed", ids: ["a"] }))).code).toBe(NOT_FOUND);
  });
});

describe("Vertex emulator: batch updates from GCS (contentsDeltaUri)", () => {
  const batchUpdate = async (index: string, uri: string) => {
    const [operation] = await indexes.updateIndex({ index: { name: index, metadata: toValue({ contentsDeltaUri: uri }) }, updateMask: { paths: ["metadata"] } });
    return operation.promise();
  };
  const line = (record: object) => `${JSON.stringify(record)}\n`;

  it("applies the data files and delete/, and counts each bad line by its record error type", async () => {
    const index = await newIndex();
    await indexes.upsertDatapoints({ index, datapoints: [{ datapointId: "old", featureVector: [1, 1] }, { datapointId: "gone", featureVector: [1, 1] }] });
    await store.put("b1/part-0.json", line({ id: "a", embedding: [1, 0], restricts: [{ namespace: "tags", allow: ["x"], deny: [] }], numeric_restricts: [{ namespace: "date", value_double: 5 }] }) + line({ id: "b", embedding: [0, 1] }));
    await store.put("b1/part-1.json", line({ id: "c", embedding: [1, 0, 0] }) + line({ id: "d", embedding: [1, 0], restricts: [{ namespace: "tags", allow_list: ["x"] }] }) + line({ id: "e", embedding: [1, 0], numeric_restricts: [{ namespace: "date", value_int: 1, value_float: 2 }] }));
    await store.put("b1/delete/ids.txt", "gone\n");
    const [, metadata] = await batchUpdate(index, `gs://${BUCKET}/b1/`);
    const stats = (metadata as protos.google.cloud.aiplatform.v1.IUpdateIndexOperationMetadata).nearestNeighborSearchOperationMetadata?.contentValidationStats ?? [];
    expect(stats.map((s) => [s.sourceGcsUri, Number(s.validRecordCount), Number(s.invalidRecordCount)])).toEqual([
      [`gs://${BUCKET}/b1/part-0.json`, 2, 0],
      [`gs://${BUCKET}/b1/part-1.json`, 0, 3],
    ]);
    const { RecordErrorType } = protos.google.cloud.aiplatform.v1.NearestNeighborSearchOperationMetadata.RecordError;
    expect(stats[1]?.partialErrors?.map((e) => RecordErrorType[e.errorType as number])).toEqual(["EMBEDDING_SIZE_MISMATCH", "PARSING_ERROR", "MULTIPLE_VALUES"]);
    expect([...(vertex.vectorSearch.datapoints(index)?.keys() ?? [])].sort()).toEqual(["a", "b", "old"]);
    expect(vertex.vectorSearch.datapoints(index)?.get("a")?.restricts.get("tags")).toEqual({ allow: ["x"], deny: [] });
  });

  it("fails the whole update on a sub-directory other than delete/, an id twice, or an id both written and deleted", async () => {
    const index = await newIndex();
    const failure = async (files: Record<string, string>) => {
      const dir = `bad-${Math.random().toString(36).slice(2)}`;
      for (const [name, body] of Object.entries(files)) await store.put(`${dir}/${name}`, body);
      return statusOf(batchUpdate(index, `gs://${BUCKET}/${dir}/`));
    };
    expect(await failure({ "a.json": line({ id: "a", embedding: [1, 0] }), "extra/b.json": line({ id: "b", embedding: [1, 0] }) })).toMatchObject({ code: INVALID_ARGUMENT, details: expect.stringContaining("sub-directory") });
    expect(await failure({ "a.json": line({ id: "a", embedding: [1, 0] }), "b.json": line({ id: "a", embedding: [0, 1] }) })).toMatchObject({ code: INVALID_ARGUMENT, details: expect.stringContaining("more than once") });
    expect(await failure({ "a.json": line({ id: "a", embedding: [1, 0] }), "delete/x.txt": "a\n" })).toMatchObject({ code: INVALID_ARGUMENT, details: expect.stringContaining("both") });
    expect(vertex.vectorSearch.datapoints(index)?.size).toBe(0);
  });

  it("refuses a contentsDeltaUri update that changes other fields in the same call", async () => {
    const index = await newIndex();
    const call = indexes.updateIndex({ index: { name: index, displayName: "renamed", metadata: toValue({ contentsDeltaUri: `gs://${BUCKET}/b1/` }) }, updateMask: { paths: ["metadata", "display_name"] } });
    expect((await statusOf(call)).code).toBe(INVALID_ARGUMENT);
  });
});
