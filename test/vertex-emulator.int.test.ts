import { helpers, v1, type protos } from "@google-cloud/aiplatform";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { embedText } from "../indexer/embedders/offline-hashing.js";
import { vertexClientOptions } from "../indexer/vertex/client-options.js";
import { countTokens } from "../ingest/tokenizer.js";
import { startVertexEmulator, type VertexEmulator } from "../src/dev/vertex-emulator/index.js";

/** The emulator as the real client sees it: every call goes through @google-cloud/aiplatform's PredictionServiceClient. */
const OK = 0;
const DEADLINE_EXCEEDED = 4;
const NOT_FOUND = 5;
const INVALID_ARGUMENT = 3;
const RESOURCE_EXHAUSTED = 8;
const UNIMPLEMENTED = 12;
const UNAVAILABLE = 14;

let emulator: VertexEmulator;
let client: InstanceType<typeof v1.PredictionServiceClient>;

beforeAll(async () => {
  emulator = await startVertexEmulator();
  client = new v1.PredictionServiceClient(await vertexClientOptions({ location: "us-central1", vertexApiEndpoint: emulator.endpoint }));
});
afterEach(() => emulator.faults.clear());
afterAll(async () => {
  await client.close();
  await emulator.stop();
});

const endpoint = (model: string) => `projects/p/locations/us-central1/publishers/google/models/${model}`;
const toValue = (value: object) => helpers.toValue(value) as protos.google.protobuf.IValue;

interface Embedding {
  values: number[];
  statistics: { token_count: number; truncated: boolean };
}

async function predict(model: string, instances: object[], parameters: object = {}, options: { timeout?: number } = {}): Promise<Embedding[]> {
  const [response] = await client.predict({ endpoint: endpoint(model), instances: instances.map(toValue), parameters: toValue(parameters) }, options);
  return (response.predictions ?? []).map((p) => (helpers.fromValue(p as Parameters<typeof helpers.fromValue>[0]) as { embeddings: Embedding }).embeddings);
}

/** The gRPC status a call ends with (0 when it succeeds). */
async function statusOf(call: Promise<unknown>): Promise<{ code: number; details: string }> {
  try {
    await call;
    return { code: OK, details: "" };
  } catch (error) {
    const { code, details } = error as { code: number; details: string };
    return { code, details };
  }
}

describe("Vertex AI emulator: PredictionService.Predict for publisher embedding models", () => {
  it("answers each instance with the offline hashing vector of its content at the asked dimensions, and its token count", async () => {
    const [a, b] = await predict("text-embedding-005", [{ content: "charging dock", task_type: "RETRIEVAL_DOCUMENT" }, { content: "replace the battery pack", task_type: "RETRIEVAL_QUERY" }], { autoTruncate: false, outputDimensionality: 64 });
    expect(a?.values).toEqual(Array.from(embedText("charging dock", 64)));
    expect(b?.values).toEqual(Array.from(embedText("replace the battery pack", 64)));
    expect(a?.statistics).toEqual({ token_count: countTokens("charging dock"), truncated: false });
  });

  it("gives the model's full size when no outputDimensionality is asked", async () => {
    expect((await predict("text-embedding-005", [{ content: "dock" }]))[0]?.values).toHaveLength(768);
    expect((await predict("gemini-embedding-001", [{ content: "dock" }]))[0]?.values).toHaveLength(3072);
  });

  it("embeds a title before the content of a RETRIEVAL_DOCUMENT instance, and refuses one on any other task type", async () => {
    const [titled] = await predict("text-embedding-005", [{ content: "Mount it on a wall.", title: "Dock Guide", task_type: "RETRIEVAL_DOCUMENT" }], { outputDimensionality: 32 });
    expect(titled?.values).toEqual(Array.from(embedText("Dock Guide\nMount it on a wall.", 32)));
    const refused = await statusOf(predict("text-embedding-005", [{ content: "x", title: "T", task_type: "RETRIEVAL_QUERY" }]));
    expect(refused.code).toBe(INVALID_ARGUMENT);
  });

  it("refuses more than 250 instances in one request", async () => {
    const instances = (n: number) => Array.from({ length: n }, (_, i) => ({ content: `text ${i}` }));
    expect((await predict("text-embedding-005", instances(250), { outputDimensionality: 16 })).length).toBe(250);
    const refused = await statusOf(predict("text-embedding-005", instances(251)));
    expect(refused).toEqual({ code: INVALID_ARGUMENT, details: "A request holds at most 250 instances; this request has 251." });
  });

  it("takes one instance per request for gemini-embedding-001", async () => {
    const refused = await statusOf(predict("gemini-embedding-001", [{ content: "a" }, { content: "b" }]));
    expect(refused.code).toBe(INVALID_ARGUMENT);
    expect(refused.details).toContain("only one instance per request");
  });

  it("refuses a request of more than 20,000 tokens in all", async () => {
    const text = "word ".repeat(1_500); // 1,500 tokens
    const instances = Array.from({ length: 14 }, () => ({ content: text }));
    expect(await predict("text-embedding-005", instances.slice(0, 13), { autoTruncate: false, outputDimensionality: 16 })).toHaveLength(13);
    const refused = await statusOf(predict("text-embedding-005", instances, { autoTruncate: false }));
    expect(refused.code).toBe(INVALID_ARGUMENT);
    expect(refused.details).toContain(`input token count is ${14 * countTokens(text)} but the model supports up to 20000`);
  });

  it("refuses an input over 2048 tokens when autoTruncate is false, and cuts it to 2048 saying so otherwise", async () => {
    const long = "word ".repeat(2_100);
    const refused = await statusOf(predict("text-embedding-005", [{ content: "short" }, { content: long }], { autoTruncate: false }));
    expect(refused.code).toBe(INVALID_ARGUMENT);
    expect(refused.details).toContain(`instances[1] has ${countTokens(long)} input tokens but the model supports up to 2048`);
    const [cut] = await predict("text-embedding-005", [{ content: long }], { outputDimensionality: 16 });
    expect(cut?.statistics).toEqual({ token_count: 2048, truncated: true });
  });

  it("refuses an outputDimensionality above the model's size", async () => {
    expect((await statusOf(predict("text-embedding-005", [{ content: "x" }], { outputDimensionality: 769 }))).code).toBe(INVALID_ARGUMENT);
    expect((await predict("gemini-embedding-001", [{ content: "x" }], { outputDimensionality: 3072 }))[0]?.values).toHaveLength(3072);
  });

  it("answers NOT_FOUND for a model it does not know", async () => {
    const refused = await statusOf(predict("no-such-model", [{ content: "x" }]));
    expect(refused.code).toBe(NOT_FOUND);
    expect(refused.details).toContain("no-such-model");
  });

  it("keeps what each request held, served or refused", async () => {
    const before = emulator.prediction.requests.length;
    await predict("text-embedding-005", [{ content: "one two", task_type: "RETRIEVAL_QUERY" }], { autoTruncate: false, outputDimensionality: 8 });
    await statusOf(predict("gemini-embedding-001", [{ content: "a" }, { content: "b" }]));
    const [served, refused] = emulator.prediction.requests.slice(before);
    expect(served).toEqual({
      endpoint: endpoint("text-embedding-005"),
      model: "text-embedding-005",
      instances: [{ content: "one two", taskType: "RETRIEVAL_QUERY", title: undefined, tokens: countTokens("one two") }],
      parameters: { autoTruncate: false, outputDimensionality: 8 },
      tokens: countTokens("one two"),
    });
    expect(refused?.refused).toContain("only one instance");
  });

  it("counts tokens with the counter it is given", async () => {
    const strict = await startVertexEmulator({ countTokens: (text) => 2 * countTokens(text) });
    const strictClient = new v1.PredictionServiceClient(await vertexClientOptions({ location: "us-central1", vertexApiEndpoint: strict.endpoint }));
    try {
      const [response] = await strictClient.predict({ endpoint: endpoint("text-embedding-005"), instances: [toValue({ content: "word ".repeat(1_100) })], parameters: toValue({ autoTruncate: false }) }).catch((error: unknown) => [error]);
      expect((response as { code?: number }).code).toBe(INVALID_ARGUMENT);
      expect(strict.prediction.requests[0]?.tokens).toBe(2 * countTokens("word ".repeat(1_100)));
    } finally {
      await strictClient.close();
      await strict.stop();
    }
  });
});

describe("Vertex AI emulator: faults and call counts", () => {
  it("fails the next N calls with the status asked for, then serves again, counting every call", async () => {
    const before = emulator.calls("Predict");
    emulator.faults.failNext(2, "RESOURCE_EXHAUSTED", { method: "Predict" });
    emulator.faults.failNext(1, "UNAVAILABLE");
    const codes = [];
    for (let i = 0; i < 4; i += 1) codes.push((await statusOf(predict("text-embedding-005", [{ content: "x" }], { outputDimensionality: 8 }))).code);
    expect(codes).toEqual([RESOURCE_EXHAUSTED, RESOURCE_EXHAUSTED, UNAVAILABLE, OK]);
    expect(emulator.calls("Predict") - before).toBe(4);
    expect(emulator.faults.pending()).toBe(0);
  });

  it("holds a call for the delay asked for, so a client deadline runs out first", async () => {
    emulator.faults.delayNext(1, 2_000, { method: "Predict" });
    expect((await statusOf(predict("text-embedding-005", [{ content: "x" }], {}, { timeout: 100 }))).code).toBe(DEADLINE_EXCEEDED);
    expect((await statusOf(predict("text-embedding-005", [{ content: "x" }], { outputDimensionality: 8 }))).code).toBe(OK);
  });

  it("holds calls until released, so a test can act while they are in flight", async () => {
    const before = emulator.calls("Predict");
    const served = emulator.prediction.requests.length;
    const hold = emulator.faults.hold({ method: "Predict" });
    const calls = [predict("text-embedding-005", [{ content: "a" }], { outputDimensionality: 8 }), predict("text-embedding-005", [{ content: "b" }], { outputDimensionality: 8 })];
    await hold.until(2);
    expect(emulator.calls("Predict") - before).toBe(2);
    expect(emulator.prediction.requests.length, "held calls have not reached the service yet").toBe(served);
    hold.release();
    expect((await Promise.all(calls)).map((answer) => answer.length)).toEqual([1, 1]);
    expect(hold.held()).toBe(0);
  });

  it("answers UNIMPLEMENTED for a method it does not serve", async () => {
    const status = await statusOf(client.rawPredict({ endpoint: endpoint("text-embedding-005"), httpBody: { contentType: "application/json", data: Buffer.from("{}") } }));
    expect(status.code).toBe(UNIMPLEMENTED);
  });

  it("fails with UNAVAILABLE when asked for any method", async () => {
    emulator.faults.failNext(1, "UNAVAILABLE");
    expect((await statusOf(predict("text-embedding-005", [{ content: "x" }]))).code).toBe(UNAVAILABLE);
  });
});
