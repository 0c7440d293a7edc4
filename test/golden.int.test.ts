import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGoldenSet } from "../indexer/evaluation/golden-set.js";
import { MAX_GOLDEN_SET_BYTES } from "../src/http/golden-routes.js";
import { startStack, type Stack } from "./support/stack.js";

/** Golden sets over HTTP, on the real stack: upload, versions, list, read back, and the refusals. */
const SET = [
  { id: "dock-wall", question: "How far from the wall does the dock need clear floor?", relevantDocuments: ["charging-dock-setup.md"], referenceContexts: ["1.2 metres of clear floor"] },
  { question: "How long is the warranty?", graded: [{ id: "warranty-and-rma-process.txt", grade: 3 }] },
]
  .map((l) => JSON.stringify(l))
  .join("\n");

interface ErrorBody {
  error: { code: string; message: string; details?: { issues?: Array<{ line: number; path: string; message: string }> } };
}

describe("golden sets over HTTP", () => {
  let stack: Stack;
  const post = (name: string | undefined, body: string, type = "application/x-ndjson") =>
    fetch(`${stack.url}/v1/golden-sets${name === undefined ? "" : `?name=${encodeURIComponent(name)}`}`, { method: "POST", headers: { "content-type": type }, body });

  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("stores an upload as version 1 with its record (201), and an identical re-upload as the same version (200)", async () => {
    const first = await post("demo", SET);
    expect(first.status).toBe(201);
    const record = (await first.json()) as Record<string, unknown>;
    expect(record).toMatchObject({ name: "demo", version: 1, questions: 2, judgmentLevel: "document", created: true, sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    const again = await post("demo", `${SET}\n`, "text/plain; charset=utf-8");
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ version: 1, created: false, sha256: record.sha256 });
  });

  it("makes the next upload of a name version 2, which latest resolves to; the list shows it", async () => {
    const response = await post("demo", `${SET}\n${JSON.stringify({ question: "Third?", relevantDocuments: ["customer-faq.html"] })}`);
    expect(response.status).toBe(201);
    expect(await (await fetch(`${stack.url}/v1/golden-sets/demo`)).json()).toMatchObject({ name: "demo", version: 2, questions: 3 });
    const list = (await (await fetch(`${stack.url}/v1/golden-sets`)).json()) as { goldenSets: Array<{ name: string; versions: number; latest: { version: number } }> };
    expect(list.goldenSets.find((s) => s.name === "demo")).toMatchObject({ versions: 2, latest: { version: 2 } });
  });

  it("serves a version's lines as JSONL that parse back to the set uploaded, ids made explicit", async () => {
    const response = await fetch(`${stack.url}/v1/golden-sets/demo/versions/1`);
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^application\/x-ndjson/);
    const text = await response.text();
    expect(parseGoldenSet(text).questions).toEqual(parseGoldenSet(SET).questions);
    expect(text.split("\n")[1]).toContain('"id":"2"');
    expect(await (await fetch(`${stack.url}/v1/golden-sets/demo/versions/latest`)).text()).toContain("Third?");
  });

  it("rejects an invalid set with 400 naming each bad line and field, and stores nothing", async () => {
    const bad = [JSON.stringify({ question: "ok", relevantDocuments: ["a"] }), JSON.stringify({ question: "no judgment" }), JSON.stringify({ question: "x", graded: [{ id: "a", grade: 128 }] })].join("\n");
    const response = await post("broken", bad);
    expect(response.status).toBe(400);
    const body = (await response.json()) as ErrorBody;
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.details?.issues?.map((i) => [i.line, i.path])).toEqual([
      [2, ""],
      [3, "graded.0.grade"],
    ]);
    expect(body.error.message).toMatch(/line 3, graded\.0\.grade/);
    expect((await fetch(`${stack.url}/v1/golden-sets/broken`)).status).toBe(404);
  });

  it("refuses a missing name, a bad name, another content type, and an oversize body (413)", async () => {
    expect((await post(undefined, SET)).status).toBe(400);
    expect((await post("../etc", SET)).status).toBe(400);
    expect((await post("demo", SET, "application/json")).status).toBe(415);
    const huge = await post("huge", "x".repeat(MAX_GOLDEN_SET_BYTES + 1));
    expect(huge.status).toBe(413);
    expect(((await huge.json()) as ErrorBody).error.message).toMatch(/golden set exceeds 20971520 bytes/);
  });

  it("answers 404 for a missing set or version, and for the routes spelled in another case or with a trailing slash", async () => {
    expect((await fetch(`${stack.url}/v1/golden-sets/nothing`)).status).toBe(404);
    const missing = await fetch(`${stack.url}/v1/golden-sets/demo/versions/9`);
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as ErrorBody).error.message).toMatch(/has no version 9 \(it has 1, 2\)/);
    expect((await fetch(`${stack.url}/v1/golden-sets/demo/versions/abc`)).status).toBe(400);
    for (const path of ["/v1/golden-sets/", "/v1/Golden-sets", "/v1/golden-sets/demo/"]) expect((await fetch(`${stack.url}${path}`)).status, path).toBe(404);
  });

  it("accepts the bundled demo golden set", async () => {
    const text = readFileSync(join(import.meta.dirname, "..", "examples", "golden", "northwind.jsonl"), "utf8");
    const response = await post("northwind", text);
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ judgmentLevel: "document" });
  });
});
