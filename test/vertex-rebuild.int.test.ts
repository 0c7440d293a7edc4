import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { batchDirectoryWriter, batchRecord, recordsPerFile } from "../indexer/indexes/vertex-batch-files.js";
import { vectorSearchClients, type ClientsHandle } from "../indexer/indexes/vertex-clients.js";
import { vertexOperations, type VertexOperations } from "../indexer/indexes/vertex-operations.js";
import { getVersion } from "../indexer/lifecycle/versions.js";
import { startGcsEmulator, type GcsEmulator } from "../src/dev/gcs-emulator.js";
import { startVertexEmulator, type StoredDatapoint, type VertexEmulator } from "../src/dev/vertex-emulator/index.js";
import { createGcsStore } from "../src/stores/gcs.js";
import { cliRunner } from "./support/cli.js";
import { putDocument, searchApi, startStack, waitForJob, type Stack } from "./support/stack.js";

/**
 * A batch rebuild of a Vertex version: ragops writes every chunk's vector,
 * BM25 sparse vector and restricts as JSON Lines files into the staging
 * bucket (the GCS emulator), then updateIndex with contentsDeltaUri and
 * isCompleteOverwrite, which the Vertex emulator checks against the
 * documented format and applies. The index ends holding exactly what stream
 * updates had written, whatever drifted meanwhile.
 */
const PARENT = "projects/ragops-test/locations/us-central1";
const STAGING = "staging";

const post = async (url: string, path: string, body: unknown = {}) => {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
};

/** A datapoint as the emulator holds it, in a form toEqual compares (maps as sorted entries). */
const comparable = (d: StoredDatapoint) => ({
  id: d.id,
  vector: d.vector.map((x) => Math.fround(x)),
  sparse: d.sparse ? { dimensions: d.sparse.dimensions, values: d.sparse.values.map((x) => Math.fround(x)) } : undefined,
  restricts: [...d.restricts].sort(),
  numeric: [...d.numeric].sort(),
});

describe("Vertex batch rebuild", () => {
  let gcs: GcsEmulator;
  let emulator: VertexEmulator;
  let clients: ClientsHandle;
  let operations: VertexOperations;
  let stack: Stack;

  beforeAll(async () => {
    gcs = await startGcsEmulator();
    emulator = await startVertexEmulator({ gcs });
    clients = vectorSearchClients({ location: "us-central1", vertexApiEndpoint: emulator.endpoint });
    operations = vertexOperations(clients, { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 10_000, pollMs: 1, pollMaxMs: 5 });
    const indexEndpoint = (await operations.wait("createIndexEndpoint", await operations.startCreateIndexEndpoint(PARENT, "ragops"))).indexEndpoint as string;
    stack = await startStack({
      gcp: {
        project: "ragops-test",
        location: "us-central1",
        vertexApiEndpoint: emulator.endpoint,
        storageApiEndpoint: gcs.url,
        vectorSearch: { indexEndpoint, algorithm: "bruteForce", operationPollMs: 2, operationPollMaxMs: 20, stagingUri: `gs://${STAGING}/rebuilds`, batchFileVectors: 2 },
      },
    });
    expect((await putDocument(stack.url, "dock", "# Charging dock\n\nMount the CD-10 charging dock against a solid wall.\n", { tags: "hardware" })).state).toBe("completed");
    expect((await putDocument(stack.url, "battery", "# Battery\n\nReplace the BP-48 battery pack when a charge lasts under six hours.\n", { tags: "hardware,power" })).state).toBe("completed");
    expect((await putDocument(stack.url, "travel", "# Travel\n\nHotel stays are reimbursed up to 180 EUR per night.\n")).state).toBe("completed");
    const created = await post(stack.url, "/v1/indexes", { version: "v2", config: { retrieval: { mode: "hybrid" }, index: { provider: "vertex" } } });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const built = await waitForJob(stack.url, String(created.body.buildJobId));
    expect(built.state, built.failedReason).toBe("completed");
  });

  afterAll(async () => {
    await stack?.stop();
    await clients?.close();
    await emulator?.stop();
    await gcs?.close();
  });

  it("writes the version's datapoints as batch files and replaces the index's content with them, drift undone", async () => {
    const index = (await getVersion(stack.runtime.store, "v2")).vertex?.index as string;
    const held = emulator.vectorSearch.datapoints(index) as Map<string, StoredDatapoint>;
    const streamed = [...held.values()].map(comparable).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(streamed).toHaveLength(3);
    // Drift: a datapoint lost, a stray one, and the term statistics gone.
    const [lost] = held.keys();
    held.delete(lost as string);
    held.set("stray", { ...(streamed[0] as unknown as StoredDatapoint), id: "stray", restricts: new Map(), numeric: new Map() });
    await stack.runtime.redis.del(`${stack.config.redis.prefix}:termstats:v2:dp`, `${stack.config.redis.prefix}:termstats:v2:df`);

    const queued = await post(stack.url, "/v1/indexes/v2/rebuild");
    expect(queued).toMatchObject({ status: 202, body: { version: "v2", rebuildJobId: expect.stringMatching(/^rebuild-v2-/) } });
    const jobId = String(queued.body.rebuildJobId);
    const job = await waitForJob(stack.url, jobId);
    expect(job.state, job.failedReason).toBe("completed");
    expect(job.result).toMatchObject({ version: "v2", contentsDeltaUri: `gs://${STAGING}/rebuilds/v2/${jobId}/`, records: 3, dataFiles: 2, embedded: 0, resumed: false, validation: { valid: 3, invalid: 0 } });

    const files = gcs.objects(STAGING, `rebuilds/v2/${jobId}/`);
    expect(files.map((f) => f.name)).toEqual([`rebuilds/v2/${jobId}/data-00000.json`, `rebuilds/v2/${jobId}/data-00001.json`]);
    const lines = files.flatMap((f) => f.body.toString("utf8").trimEnd().split("\n").map((line) => JSON.parse(line) as Record<string, unknown>));
    expect(lines).toHaveLength(3);
    for (const line of lines) expect(Object.keys(line)).toEqual(["id", "embedding", "sparse_embedding", "restricts", "numeric_restricts"]);

    const after = [...(emulator.vectorSearch.datapoints(index)?.values() ?? [])].map(comparable).sort((a, b) => (a.id < b.id ? -1 : 1));
    expect(after).toEqual(streamed);
    expect(emulator.vectorSearch.operations.list().filter((op) => op.method === "UpdateIndex")).toHaveLength(1);
    // Term statistics recounted: a text search ranks by BM25 again.
    const found = await searchApi(stack.url, { query: "BP-48 battery pack", k: 1, index: "v2", mode: "text" });
    expect(found.body).toMatchObject({ results: [expect.objectContaining({ documentId: "battery" })] });
    expect(await stack.runtime.redis.hlen(`${stack.config.redis.prefix}:termstats:v2:dp`)).toBe(3);
    expect((await getVersion(stack.runtime.store, "v2")).operation).toBeUndefined();
  });

  it("refuses a rebuild of a LanceDB version (400) and of a version that does not exist (404)", async () => {
    expect(await post(stack.url, "/v1/indexes/v1/rebuild")).toMatchObject({ status: 400, body: { error: { message: expect.stringContaining("lancedb") } } });
    expect((await post(stack.url, "/v1/indexes/v9/rebuild")).status).toBe(404);
  });

  it("runs from `ragops index rebuild <version> --wait`, which says what it wrote, and refuses a LanceDB version with the reason", async () => {
    const configFile = join(stack.config.dataDir, "cli-config.json");
    writeFileSync(configFile, JSON.stringify(stack.config));
    const ragops = cliRunner({ ...process.env, RAGOPS_CONFIG: configFile });
    const rebuilt = await ragops("index", "rebuild", "v2", "--wait");
    expect(rebuilt.status, rebuilt.err).toBe(0);
    expect(rebuilt.out).toMatch(/rebuild of v2 queued: job rebuild-v2-/);
    expect(rebuilt.out).toMatch(/v2 rebuilt from gs:\/\/staging\/rebuilds\/v2\/rebuild-v2-\S+\/: 3 datapoints in 2 files \(0 embedded\); Vertex read 3 records/);
    const refused = await ragops("index", "rebuild", "v1");
    expect(refused.status).not.toBe(0);
    expect(refused.err).toMatch(/lancedb/);
  });

  it("applies a delta batch with a delete/ directory, and the emulator refuses a record of other dimensions by its error type", async () => {
    const index = (await getVersion(stack.runtime.store, "v2")).vertex?.index as string;
    const staging = createGcsStore({ bucket: STAGING, apiEndpoint: gcs.url, projectId: "ragops-test" });
    const [keep, drop] = [...(emulator.vectorSearch.datapoints(index)?.keys() ?? [])];
    const dims = (emulator.vectorSearch.datapoints(index)?.get(keep as string) as StoredDatapoint).vector.length;
    const writer = batchDirectoryWriter(staging, "delta/1/", { recordsPerFile: 10 });
    await writer.add([{ id: "new", vector: new Float32Array(dims).fill(0.5), restricts: { documentIds: ["x"], tags: [], contentTypes: [] }, numericRestricts: { date: 1_700_000_000 } }]);
    await writer.remove([drop as string]);
    await expect(writer.remove(["new"])).rejects.toThrow(/once/);
    expect(await writer.finish()).toMatchObject({ dataFiles: 1, records: 1, deleteFiles: 1, deletes: 1 });
    const wrong = batchRecord({ id: "wide", vector: [1, 2, 3], restricts: { documentIds: [], tags: [], contentTypes: [] }, numericRestricts: {} });
    await staging.put("delta/1/more.json", `${wrong}\n`);
    const outcome = await operations.wait("updateIndex", await operations.startBatchUpdate(index, `gs://${STAGING}/delta/1/`));
    expect(outcome.validation).toMatchObject({ valid: 1, invalid: 1, errors: [expect.stringContaining("EMBEDDING_SIZE_MISMATCH")] });
    const now = emulator.vectorSearch.datapoints(index) as ReadonlyMap<string, StoredDatapoint>;
    expect(now.has("new") && now.has(keep as string) && !now.has(drop as string) && !now.has("wide")).toBe(true);
    expect(now.get("new")?.numeric.get("date")).toEqual({ kind: "valueDouble", value: 1_700_000_000 });
    await staging.close();
  });

  it("spreads records over at most 5,000 files", () => {
    expect(recordsPerFile(3, 2)).toBe(2);
    expect(recordsPerFile(12_000_000, 1_000)).toBe(2_400);
  });
});
