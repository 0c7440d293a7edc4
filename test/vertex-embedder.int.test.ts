import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { RagopsError } from "../core/errors.js";
import { embedText } from "../indexer/embedders/offline-hashing.js";
import { createVertexEmbedder, type VertexEmbedder, type VertexEmbedderOptions } from "../indexer/embedders/vertex.js";
import { countTokens } from "../ingest/tokenizer.js";
import { startVertexEmulator, type VertexEmulator } from "../src/dev/vertex-emulator/index.js";
import { embedderConformance } from "./conformance/embedder.js";

/**
 * The Vertex embedder at the wire: the real PredictionServiceClient against
 * the in-process emulator, which enforces the documented limits and logs
 * every request it receives.
 */
let emulator: VertexEmulator;
const opened: VertexEmbedder[] = [];

beforeAll(async () => {
  emulator = await startVertexEmulator();
});
afterEach(() => emulator.faults.clear());
afterAll(async () => {
  await Promise.all(opened.map((embedder) => embedder.close()));
  await emulator.stop();
});

/** An embedder on the shared emulator (or the one given), closed after the file; retries back off for a millisecond, not a second. */
function open(options: Partial<VertexEmbedderOptions> = {}, on: VertexEmulator = emulator): VertexEmbedder {
  const embedder = createVertexEmbedder({ project: "p", location: "us-central1", vertexApiEndpoint: on.endpoint, model: "text-embedding-005", dimensions: 256, retryBaseDelayMs: 1, retryMaxDelayMs: 5, ...options });
  opened.push(embedder);
  return embedder;
}

/** The emulator's log of the requests one action made. */
async function requestsOf(action: () => Promise<unknown>, on: VertexEmulator = emulator) {
  const before = on.prediction.requests.length;
  await action();
  return on.prediction.requests.slice(before);
}

// Vectors come from the emulator's deterministic embedder, so one text's vector is bit-exact every time.
embedderConformance("Vertex text-embedding-005 through the emulator", async () => open(), { dimensions: 256, tolerance: 0 });
embedderConformance("Vertex gemini-embedding-001 through the emulator", async () => open({ model: "gemini-embedding-001", dimensions: 3072 }), { dimensions: 3072, tolerance: 0, runs: 10 });

describe("Vertex embedder at the wire", () => {
  it("has an identity of provider, model, model version and dimensions", () => {
    expect(open().identity).toEqual({ provider: "vertex", model: "text-embedding-005", version: "005", dimensions: 256 });
    expect(open({ model: "gemini-embedding-001", dimensions: 1536 }).identity).toEqual({ provider: "vertex", model: "gemini-embedding-001", version: "001", dimensions: 1536 });
  });

  it("returns the service's vectors for the texts, in order", async () => {
    const texts = ["charging dock", "battery pack", "hotel costs"];
    const vectors = await open().embed(texts, { purpose: "document" });
    expect(vectors.map((v) => Array.from(v))).toEqual(texts.map((t) => Array.from(embedText(t, 256))));
  });

  it("sends RETRIEVAL_DOCUMENT for documents and RETRIEVAL_QUERY for queries, no title, autoTruncate off, the configured dimensions", async () => {
    const embedder = open();
    const [document] = await requestsOf(() => embedder.embed(["a chunk", "another chunk"], { purpose: "document" }));
    const [query] = await requestsOf(() => embedder.embed(["a question"], { purpose: "query" }));
    expect(document?.instances.map((i) => [i.taskType, i.title])).toEqual([
      ["RETRIEVAL_DOCUMENT", undefined],
      ["RETRIEVAL_DOCUMENT", undefined],
    ]);
    expect(query?.instances.map((i) => i.taskType)).toEqual(["RETRIEVAL_QUERY"]);
    expect(document?.parameters).toEqual({ autoTruncate: false, outputDimensionality: 256 });
    expect(document?.endpoint).toBe("projects/p/locations/us-central1/publishers/google/models/text-embedding-005");
  });

  it("sends at most 250 texts per request", async () => {
    const texts = Array.from({ length: 600 }, (_, i) => `short text ${i}`);
    const requests = await requestsOf(() => open().embed(texts, { purpose: "document" }));
    // Requests run concurrently, so they may arrive in any order.
    expect(requests.map((r) => r.instances.length).sort((a, b) => b - a)).toEqual([250, 250, 100]);
    expect(requests.every((r) => r.refused === undefined)).toBe(true);
  });

  it("keeps each request within 20,000 tokens, filling 75% of it by ragops' count", async () => {
    const chunk = (i: number) => `chunk ${i} ${"word ".repeat(1_000)}`;
    const texts = Array.from({ length: 40 }, (_, i) => chunk(i));
    const requests = await requestsOf(() => open().embed(texts, { purpose: "document" }));
    expect(requests.length).toBeGreaterThan(1);
    for (const request of requests) {
      expect(request.refused).toBeUndefined();
      expect(request.tokens).toBeLessThanOrEqual(15_000);
    }
    expect(requests.flatMap((r) => r.instances.map((i) => i.content)).sort()).toEqual([...texts].sort());
  });

  it("sends gemini-embedding-001 one text per request", async () => {
    const texts = ["one", "two", "three", "four", "five"];
    const requests = await requestsOf(() => open({ model: "gemini-embedding-001", dimensions: 768 }).embed(texts, { purpose: "query" }));
    expect(requests.map((r) => r.instances.map((i) => i.content))).toEqual(texts.map((t) => [t]));
    expect(requests.every((r) => r.refused === undefined)).toBe(true);
  });

  it("cuts a text longer than 75% of the 2048-token input limit to that before sending it", async () => {
    const long = "The charging dock aligns the robot before it docks. ".repeat(400); // ~4,000 tokens
    const [request] = await requestsOf(() => open().embed([long], { purpose: "query" }));
    const sent = request?.instances[0]?.content as string;
    expect(long.startsWith(sent)).toBe(true);
    expect(countTokens(sent)).toBeLessThanOrEqual(1_536);
    expect(countTokens(sent)).toBeGreaterThan(1_500);
  });

  it("keeps at most requestConcurrency requests of one call in flight", async () => {
    const isolated = await startVertexEmulator();
    try {
      const hold = isolated.faults.hold({ method: "Predict" });
      const embedding = open({ model: "gemini-embedding-001", dimensions: 64, requestConcurrency: 2 }, isolated).embed(["a", "b", "c", "d", "e", "f"], { purpose: "document" });
      await hold.until(2);
      hold.release();
      expect(await embedding).toHaveLength(6);
      expect(isolated.calls("Predict")).toBe(6);
      expect(isolated.peakInFlight("Predict")).toBe(2);
    } finally {
      await isolated.stop();
    }
  });

  it("retries RESOURCE_EXHAUSTED and UNAVAILABLE, then succeeds", async () => {
    const before = emulator.calls("Predict");
    emulator.faults.failNext(2, "RESOURCE_EXHAUSTED", { method: "Predict" });
    emulator.faults.failNext(1, "UNAVAILABLE", { method: "Predict" });
    const [vector] = await open({ maxAttempts: 4 }).embed(["charging dock"], { purpose: "document" });
    expect(Array.from(vector as Float32Array)).toEqual(Array.from(embedText("charging dock", 256)));
    expect(emulator.calls("Predict") - before).toBe(4);
  });

  it("retries a request that runs past its deadline", async () => {
    const before = emulator.calls("Predict");
    emulator.faults.delayNext(1, 2_000, { method: "Predict" });
    const [vector] = await open({ timeoutMs: 100 }).embed(["charging dock"], { purpose: "document" });
    expect(Array.from(vector as Float32Array)).toEqual(Array.from(embedText("charging dock", 256)));
    expect(emulator.calls("Predict") - before).toBe(2);
  });

  it("gives up after maxAttempts attempts with a retryable error that says so", async () => {
    const before = emulator.calls("Predict");
    emulator.faults.failNext(10, "RESOURCE_EXHAUSTED", { method: "Predict" });
    const failure = await open({ maxAttempts: 3 })
      .embed(["charging dock"], { purpose: "document" })
      .catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RagopsError);
    expect(failure).toMatchObject({ code: "unavailable", retryable: true, details: { grpcStatus: "RESOURCE_EXHAUSTED", attempts: 3 } });
    expect((failure as Error).message).toContain("failed 3 time(s) in a row (RESOURCE_EXHAUSTED");
    expect(emulator.calls("Predict") - before).toBe(3);
  });

  it("does not retry INVALID_ARGUMENT, and says which limit Vertex's token count broke and what to lower", async () => {
    // Vertex's tokenizer is not ragops': this emulator counts twice what ragops does.
    const strict = await startVertexEmulator({ countTokens: (text) => 2 * countTokens(text) });
    try {
      const chunk = "word ".repeat(1_200); // 1,201 tokens by ragops' count: within its 1,536 budget, 2,402 by this Vertex
      const tokens = countTokens(chunk);
      const failure = await open({}, strict)
        .embed([chunk], { purpose: "document" })
        .catch((error: unknown) => error);
      expect(failure).toMatchObject({ code: "invalid_request", retryable: false, details: { grpcStatus: "INVALID_ARGUMENT", texts: 1, tokens, longest: tokens } });
      expect((failure as Error).message).toBe(
        `Vertex AI refused an embedding request to text-embedding-005 (INVALID_ARGUMENT: Unable to submit request because instances[0] has ${2 * tokens} input tokens but the model supports up to 2048. Reduce the input token count, or set autoTruncate to true.). ` +
          `The request held 1 text(s), ${tokens} tokens by ragops' count, the longest ${tokens}. Vertex counts tokens differently from ragops, which fills only 75% of the model's limits (2048 tokens per text, 20000 per request) by its own count: lower chunking.sizeTokens so chunks leave more room`,
      );
      expect(strict.calls("Predict")).toBe(1);
    } finally {
      await strict.stop();
    }
  });

  it("fails without retrying when the model does not exist, naming the settings to check", async () => {
    const before = emulator.calls("Predict");
    const failure = await open({ model: "text-embedding-999" })
      .embed(["x"], { purpose: "document" })
      .catch((error: unknown) => error);
    expect(failure).toMatchObject({ retryable: false, details: { grpcStatus: "NOT_FOUND" } });
    expect((failure as Error).message).toContain("check gcp.project, gcp.location and the model name (embedder.vertex.model)");
    expect(emulator.calls("Predict") - before).toBe(1);
  });

  it("refuses dimensions the model cannot make when it is made", () => {
    expect(() => open({ model: "text-embedding-005", dimensions: 1024 })).toThrow("text-embedding-005 makes at most 768 dimensions; embedder.dimensions is 1024");
  });
});
