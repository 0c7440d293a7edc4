import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { vectorSearchClients, type ClientsHandle } from "../indexer/indexes/vertex-clients.js";
import { vertexOperations } from "../indexer/indexes/vertex-operations.js";
import { getVersion } from "../indexer/lifecycle/versions.js";
import { startVertexEmulator, type VertexEmulator } from "../src/dev/vertex-emulator/index.js";
import { putDocument, searchApi, startStack, waitForJob, type Stack } from "./support/stack.js";

/**
 * Blue-green on Vertex AI Vector Search, through the control plane and a
 * worker against the emulator: each version gets its own Vertex index,
 * deployed on one endpoint under its own deployedIndexId by its build job;
 * the alias picks which deployed index answers, so swap and rollback deploy
 * nothing; retiring a version undeploys and deletes its index in a job.
 * v1 is the bootstrap LanceDB version: a Vertex green built beside a live
 * LanceDB version is the migration path.
 */
const PARENT = "projects/ragops-test/locations/us-central1";

const post = async (url: string, path: string, body: unknown) => {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-ragops-actor": "alice" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
};

const DOCS: Record<string, string> = {
  dock: "# Charging dock\n\nMount the CD-10 charging dock against a solid wall with 1.2 metres of clear floor in front of it.\n",
  battery: "# Battery\n\nReplace the BP-48 battery pack when a full charge lasts less than six hours of picking.\n",
  travel: "# Travel\n\nHotel stays are reimbursed up to 180 EUR per night in high-cost cities with a receipt.\n",
};

describe("blue-green on Vertex AI Vector Search", () => {
  let emulator: VertexEmulator;
  let clients: ClientsHandle;
  let indexEndpoint: string;
  let stack: Stack;

  beforeAll(async () => {
    emulator = await startVertexEmulator();
    clients = vectorSearchClients({ location: "us-central1", vertexApiEndpoint: emulator.endpoint });
    const operations = vertexOperations(clients, { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 10_000, pollMs: 1, pollMaxMs: 5 });
    indexEndpoint = (await operations.wait("createIndexEndpoint", await operations.startCreateIndexEndpoint(PARENT, "ragops"))).indexEndpoint as string;
    stack = await startStack({
      gcp: { project: "ragops-test", location: "us-central1", vertexApiEndpoint: emulator.endpoint, vectorSearch: { indexEndpoint, algorithm: "bruteForce", operationPollMs: 2, operationPollMaxMs: 20 } },
    });
    for (const [id, text] of Object.entries(DOCS)) expect((await putDocument(stack.url, id, text)).state).toBe("completed");
  });

  afterAll(async () => {
    await stack?.stop();
    await clients?.close();
    await emulator?.stop();
  });

  const buildOnVertex = async (version: string, config: Record<string, unknown> = {}) => {
    const created = await post(stack.url, "/v1/indexes", { version, config: { retrieval: { mode: "dense" }, ...config, index: { provider: "vertex" } } });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const job = await waitForJob(stack.url, String(created.body.buildJobId));
    expect(job.state, job.failedReason).toBe("completed");
    return getVersion(stack.runtime.store, version);
  };
  const deployedIds = () => [...emulator.vectorSearch.deployed(indexEndpoint).keys()].sort();

  it("builds each Vertex version into an index of its own, deployed under its own id, beside the live LanceDB version", async () => {
    const v2 = await buildOnVertex("v2");
    const v3 = await buildOnVertex("v3", { chunking: { sizeTokens: 300 }, retrieval: { mode: "hybrid" } });
    expect(v2).toMatchObject({ state: "ready", config: { index: { provider: "vertex" } }, vertex: { indexEndpoint, deployedIndexId: "ragops_v2", deployed: true }, counts: { documents: 3, datapoints: 3 } });
    expect(v2.operation).toBeUndefined();
    expect(v3.vertex).toMatchObject({ deployedIndexId: "ragops_v3", deployed: true });
    expect(v3.vertex?.index).not.toBe(v2.vertex?.index);
    expect(deployedIds()).toEqual(["ragops_v2", "ragops_v3"]);
    expect(emulator.vectorSearch.datapoints(v2.vertex?.index as string)?.size).toBe(3);
    const fromV2 = await searchApi(stack.url, { query: "BP-48 battery pack", k: 1, index: "v2" });
    expect(fromV2.body).toMatchObject({ index: "v2", results: [expect.objectContaining({ documentId: "battery" })] });
  });

  it("holds a hybrid Vertex version's BM25 sparse vectors beside the dense ones, and answers it in text and hybrid mode", async () => {
    const v3 = await getVersion(stack.runtime.store, "v3");
    const held = [...(emulator.vectorSearch.datapoints(v3.vertex?.index as string)?.values() ?? [])];
    expect(held).toHaveLength(3);
    for (const datapoint of held) expect(datapoint.sparse?.dimensions.length).toBeGreaterThan(3);
    for (const mode of ["text", "hybrid"]) {
      const found = await searchApi(stack.url, { query: "BP-48 battery pack", k: 1, index: "v3", mode });
      expect(found.body, mode).toMatchObject({ index: "v3", results: [expect.objectContaining({ documentId: "battery" })] });
    }
    // v2 retrieves dense only: no sparse vectors were written to it.
    expect([...(emulator.vectorSearch.datapoints((await getVersion(stack.runtime.store, "v2")).vertex?.index as string)?.values() ?? [])].every((d) => d.sparse === undefined)).toBe(true);
  });

  it("swaps and rolls back by the alias alone: the deployed index that answers changes, nothing is deployed", async () => {
    const deploys = emulator.calls("DeployIndex");
    const swapped = await post(stack.url, "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1", force: true, reason: "move to Vertex" });
    expect(swapped).toMatchObject({ status: 200, body: { live: "v2", previous: "v1" } });
    const beforeV2 = emulator.calls("FindNeighbors");
    expect((await searchApi(stack.url, { query: "CD-10 charging dock", k: 1 })).body).toMatchObject({ index: "v2", results: [expect.objectContaining({ documentId: "dock" })] });
    expect(emulator.calls("FindNeighbors")).toBe(beforeV2 + 1);

    expect(await post(stack.url, "/v1/aliases/live/swap", { to: "v3", expectedVersion: "v2", force: true, reason: "smaller chunks" })).toMatchObject({ status: 200, body: { live: "v3", previous: "v2" } });
    expect((await searchApi(stack.url, { query: "hotel per night", k: 1 })).body).toMatchObject({ index: "v3", results: [expect.objectContaining({ documentId: "travel" })] });
    expect(await post(stack.url, "/v1/aliases/live/rollback", { expectedVersion: "v3" })).toMatchObject({ status: 200, body: { live: "v2", previous: "v3" } });
    expect((await searchApi(stack.url, { query: "hotel per night", k: 1 })).body).toMatchObject({ index: "v2" });
    expect(emulator.calls("DeployIndex")).toBe(deploys);
    expect(emulator.calls("UndeployIndex")).toBe(0);
  });

  it("keeps every Vertex version following the corpus: a new document reaches both deployed indexes", async () => {
    expect((await putDocument(stack.url, "gloves", "# Gloves\n\nWear cut-resistant gloves of level B when handling tote edges.\n")).state).toBe("completed");
    for (const version of ["v2", "v3"]) {
      expect((await searchApi(stack.url, { query: "cut-resistant gloves", k: 1, index: version })).body).toMatchObject({ index: version, results: [expect.objectContaining({ documentId: "gloves" })] });
    }
  });

  it("retires a Vertex version in a job that undeploys and deletes its index", async () => {
    expect(await post(stack.url, "/v1/aliases/live/swap", { to: "v1", expectedVersion: "v2", force: true, reason: "back to LanceDB" })).toMatchObject({ status: 200, body: { live: "v1", previous: "v2" } });
    const v3 = await getVersion(stack.runtime.store, "v3");
    const retired = await post(stack.url, "/v1/indexes/v3/retire", { reason: "superseded" });
    expect(retired).toMatchObject({ status: 200, body: { state: "retired", retireJobId: expect.stringMatching(/^retire-v3-/) } });
    const job = await waitForJob(stack.url, String(retired.body.retireJobId));
    expect(job.state, job.failedReason).toBe("completed");
    expect(deployedIds()).toEqual(["ragops_v2"]);
    expect(emulator.vectorSearch.indexes()).not.toContain(v3.vertex?.index);
    expect(await getVersion(stack.runtime.store, "v3")).toMatchObject({ state: "retired", vertex: { deployed: false } });
    expect((await getVersion(stack.runtime.store, "v3")).vertex?.index).toBeUndefined();
  });
});

describe("a fresh deployment on Vertex AI Vector Search", () => {
  let emulator: VertexEmulator;
  let clients: ClientsHandle;
  let stack: Stack;

  beforeAll(async () => {
    emulator = await startVertexEmulator();
    clients = vectorSearchClients({ location: "us-central1", vertexApiEndpoint: emulator.endpoint });
    const operations = vertexOperations(clients, { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 10_000, pollMs: 1, pollMaxMs: 5 });
    const indexEndpoint = (await operations.wait("createIndexEndpoint", await operations.startCreateIndexEndpoint(PARENT, "ragops"))).indexEndpoint as string;
    stack = await startStack({
      index: { provider: "vertex" },
      retrieval: { mode: "dense" },
      gcp: { project: "ragops-test", location: "us-central1", vertexApiEndpoint: emulator.endpoint, vectorSearch: { indexEndpoint, algorithm: "bruteForce", operationPollMs: 2, operationPollMaxMs: 20 } },
    });
  });

  afterAll(async () => {
    await stack?.stop();
    await clients?.close();
    await emulator?.stop();
  });

  it("makes its first version live at once, and the first worker builds it: its Vertex index is created and deployed, then it serves", async () => {
    const first = await getVersion(stack.runtime.store, "v1");
    expect(first).toMatchObject({ config: { index: { provider: "vertex" } }, buildJobId: "build-v1-first" });
    const job = await waitForJob(stack.url, "build-v1-first");
    expect(job.state, job.failedReason).toBe("completed");
    expect(await getVersion(stack.runtime.store, "v1")).toMatchObject({ state: "ready", vertex: { deployedIndexId: "ragops_v1", deployed: true } });
    expect((await putDocument(stack.url, "battery", DOCS.battery as string)).state).toBe("completed");
    expect((await searchApi(stack.url, { query: "BP-48 battery pack", k: 1 })).body).toMatchObject({ index: "v1", results: [expect.objectContaining({ documentId: "battery" })] });
  });
});
