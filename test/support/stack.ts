import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { loadConfig } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import { startServer, type RunningServer } from "../../src/http/server.js";
import { openRuntime, type Runtime } from "../../src/runtime.js";
import { startWorkers, type Workers } from "../../src/worker/worker.js";
import type { LanceDbIndex } from "../../indexer/indexes/lancedb.js";
import type { VectorIndex } from "../../indexer/indexes/vector-index.js";
import { createChunkStore } from "../../indexer/sync/chunk-store.js";
import { profileKey, registryPrefix } from "../../indexer/sync/profile.js";

/** A config on a fresh temp directory and a Redis prefix of its own, so test files never see each other's data. */
export function testConfig(overrides: Record<string, unknown> = {}): Config {
  const dataDir = mkdtempSync(join(tmpdir(), "ragops-test-"));
  return loadConfig({
    env: {},
    overrides: {
      dataDir,
      redis: { url: inject("redisUrl"), prefix: `t${randomUUID().slice(0, 8)}` },
      log: { level: process.env.RAGOPS_TEST_LOG_LEVEL ?? "silent" },
      queue: { backoffMs: 50, attempts: 3 },
      http: { port: 0 },
      ...overrides,
    },
  });
}

export interface Stack {
  config: Config;
  runtime: Runtime;
  worker: Workers;
  server: RunningServer;
  url: string;
  stop(): Promise<void>;
}

/** Control plane and worker in this process, on real Redis and real LanceDB. */
export async function startStack(overrides: Record<string, unknown> = {}): Promise<Stack> {
  const config = testConfig(overrides);
  const runtime = await openRuntime(config);
  const worker = await startWorkers(runtime);
  const server = await startServer(runtime);
  return {
    config,
    runtime,
    worker,
    server,
    url: server.url,
    stop: async () => {
      await server.close(1_000);
      await worker.close(1_000);
      await runtime.queue.obliterate({ force: true }).catch(() => undefined);
      await runtime.close();
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

export async function uploadDocument(
  url: string,
  file: { name: string; content: string | Uint8Array; type?: string },
  fields: Record<string, string> = {},
  method: "POST" | "PUT" = "POST",
  path = "/v1/documents",
): Promise<Response> {
  const form = new FormData();
  for (const [name, value] of Object.entries(fields)) form.append(name, value);
  form.append("file", new Blob([file.content], { type: file.type ?? "text/markdown" }), file.name);
  return fetch(`${url}${path}`, { method, body: form });
}

export async function waitForJob(url: string, jobId: string, timeoutMs = 100_000): Promise<{ state: string; failedReason?: string; result?: unknown }> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const response = await fetch(`${url}/v1/jobs/${jobId}`);
    const body = (await response.json()) as { state: string; failedReason?: string; result?: unknown };
    if (body.state === "completed" || body.state === "failed") return body;
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${body.state} after ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

export async function searchApi(url: string, body: unknown): Promise<{ status: number; body: { results: Array<{ documentId: string; text: string; score: number }>; error?: { code: string; message: string } } }> {
  const response = await fetch(`${url}/v1/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as never };
}

/** PUT a Markdown document and wait for its job; returns the job's result. */
export async function putDocument(url: string, id: string, text: string, fields: Record<string, string> = {}): Promise<{ state: string; failedReason?: string; result?: Record<string, unknown> }> {
  const response = await uploadDocument(url, { name: `${id}.md`, content: text }, fields, "PUT", `/v1/documents/${id}`);
  const body = (await response.json()) as { jobId: string; error?: { message: string } };
  if (!response.ok) throw new Error(`PUT ${id}: ${response.status} ${body.error?.message}`);
  const job = (await waitForJob(url, body.jobId)) as { state: string; failedReason?: string; result?: Record<string, unknown> };
  // Say why when a test expected a result and the job failed instead.
  if (job.state === "failed") console.error(`job ${body.jobId} for ${id} failed: ${job.failedReason}`);
  return job;
}

export async function deleteDocument(url: string, id: string): Promise<{ state: string; result?: Record<string, unknown> }> {
  const response = await fetch(`${url}/v1/documents/${id}`, { method: "DELETE" });
  const body = (await response.json()) as { jobId: string };
  return (await waitForJob(url, body.jobId)) as { state: string; result?: Record<string, unknown> };
}

/** Every datapoint id of an index: the embedded adapter the tests run on lists them (the port leaves listing out). */
export async function listIndexIds(index: VectorIndex): Promise<string[]> {
  const lister = index as Partial<LanceDbIndex>;
  if (typeof lister.listIds !== "function") throw new Error(`index ${index.name} cannot list its ids`);
  return lister.listIds();
}

/** Every datapoint of the stack's index: id to the text its chunk store entry shows (every datapoint must have one). */
export async function indexContents(stack: Stack, heldIds?: () => Promise<string[]>): Promise<Map<string, string>> {
  const ids = heldIds ? await heldIds() : await listIndexIds(await stack.runtime.index());
  const chunks = createChunkStore(stack.runtime.redis, registryPrefix(stack.config.redis.prefix, profileKey(stack.config)));
  const entries = await chunks.get(ids);
  const missing = ids.filter((id) => !entries.has(id));
  if (missing.length) throw new Error(`indexed chunks without a chunk store entry: ${missing.join(", ")}`);
  return new Map(ids.map((id) => [id, entries.get(id)?.text ?? ""]));
}

/** Every chunk the stack's chunk store holds an entry for. */
export async function chunkStoreIds(stack: Stack): Promise<string[]> {
  return stack.runtime.redis.hkeys(`${registryPrefix(stack.config.redis.prefix, profileKey(stack.config))}:chunks`);
}
