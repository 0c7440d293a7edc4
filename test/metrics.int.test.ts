import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { newToken } from "../src/http/tokens.js";
import { startStack, type Stack } from "./support/stack.js";

/** The value of one sample of a Prometheus text exposition, or undefined when it is not there. */
function sample(text: string, name: string, labels: Record<string, string>): number | undefined {
  const wanted = Object.entries(labels).map(([k, v]) => `${k}="${v}"`);
  for (const line of text.split("\n")) {
    const match = /^([a-z_:]+)(?:\{(.*)\})? (.+)$/.exec(line);
    if (!match || match[1] !== name) continue;
    const have = (match[2] ?? "").split(",");
    if (wanted.every((label) => have.includes(label))) return Number(match[3]);
  }
  return undefined;
}

describe("GET /metrics and the queues UI, with roles", () => {
  const operator = newToken();
  const reader = newToken();
  const content = newToken();
  let stack: Stack;
  const auth = (token: string) => ({ authorization: `Bearer ${token}` });

  beforeAll(async () => {
    stack = await startStack({
      auth: { tokens: { ops: { hash: operator.hash, roles: ["operator"] }, app: { hash: reader.hash, roles: ["reader"] }, editor: { hash: content.hash, roles: ["content"] } } },
    });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("counts the chunks a job embedded, its duration, the queue depth and a search's latency by version", async () => {
    const form = new FormData();
    form.append("file", new Blob(["# Dock\n\nReset the dock by holding the power button for ten seconds."], { type: "text/markdown" }), "dock.md");
    // Listen before the upload, so the job's completion cannot be missed.
    const completed = new Promise<void>((resolve) => stack.worker.worker.once("completed", () => resolve()));
    const uploaded = await fetch(`${stack.url}/v1/documents`, { method: "POST", headers: auth(content.token), body: form });
    expect(uploaded.status).toBe(202);
    await completed;

    const searched = await fetch(`${stack.url}/v1/search`, { method: "POST", headers: { ...auth(reader.token), "content-type": "application/json" }, body: JSON.stringify({ query: "reset the dock" }) });
    expect(searched.status).toBe(200);
    expect((await fetch(`${stack.url}/metrics`, { headers: auth(reader.token) })).status).toBe(403);

    const response = await fetch(`${stack.url}/metrics`, { headers: auth(operator.token) });
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toMatch(/^text\/plain; version=0\.0\.4/);
    const text = await response.text();
    expect(sample(text, "ragops_search_duration_seconds_count", { version: "v1", mode: "hybrid" })).toBe(1);
    expect(sample(text, "ragops_chunks_embedded_total", { queue: "ingest" })).toBeGreaterThan(0);
    expect(sample(text, "ragops_index_writes_total", { queue: "ingest", kind: "upsert" })).toBeGreaterThan(0);
    expect(sample(text, "ragops_job_duration_seconds_count", { queue: "ingest", outcome: "completed" })).toBe(1);
    expect(sample(text, "ragops_queue_jobs", { queue: "ingest", state: "completed" })).toBe(1);
    expect(sample(text, "ragops_queue_jobs", { queue: "lifecycle", state: "waiting" })).toBe(0);
    expect(sample(text, "ragops_http_errors_total", { code: "forbidden" })).toBe(1);
    expect(sample(text, "ragops_http_request_duration_seconds_count", { method: "POST", route: "/v1/search", status: "200" })).toBe(1);
    expect(text).toMatch(/^ragops_process_cpu_seconds_total /m);
  });

  it("serves bull-board at /admin/queues to operators only", async () => {
    const page = await fetch(`${stack.url}/admin/queues`, { headers: auth(operator.token) });
    expect(page.status).toBe(200);
    expect(page.headers.get("content-type")).toMatch(/text\/html/);
    const api = await fetch(`${stack.url}/admin/queues/api/queues`, { headers: { authorization: `Basic ${Buffer.from(`ops:${operator.token}`).toString("base64")}` } });
    expect(api.status).toBe(200);
    const names = ((await api.json()) as { queues: Array<{ name: string }> }).queues.map((q) => q.name).sort();
    expect(names).toEqual(["ingest", "lifecycle", "refresh"]);
    expect((await fetch(`${stack.url}/admin/queues`, { headers: auth(content.token) })).status).toBe(403);
    expect((await fetch(`${stack.url}/admin/queues`)).status).toBe(401);
  });
});
