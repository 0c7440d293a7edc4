import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { request, type IncomingMessage, type ServerResponse } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Config } from "../config/schema.js";
import { uploadKey } from "../core/documents.js";
import { getDocument, submitDocument } from "../src/documents/service.js";
import { startServer } from "../src/http/server.js";
import type { Runtime } from "../src/runtime.js";
import { startCli } from "./support/cli.js";
import { openFileStack, type FileStack } from "./support/file-stack.js";
import { until } from "./support/until.js";

/** A search on a connection of its own (no keep-alive), named by its x-request-id: its status, or the error that ended it. */
function searchOnce(url: string, requestId: string): Promise<{ status?: number; error?: string }> {
  return new Promise<{ status?: number; error?: string }>((resolve) => {
    const req = request(`${url}/v1/search`, { method: "POST", agent: false, headers: { "content-type": "application/json", connection: "close", "x-request-id": requestId } }, (res) => {
      res.resume();
      res.on("end", () => resolve({ status: res.statusCode as number }));
      res.on("error", (error) => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }));
    });
    req.on("error", (error) => resolve({ error: (error as NodeJS.ErrnoException).code ?? error.message }));
    req.end(JSON.stringify({ query: "torque settings for the dock clamp", k: 10 }));
  });
}

function manual(sections: number): string {
  const parts = ["# Clamp manual"];
  for (let i = 0; i < sections; i += 1) parts.push(`## Clamp ${i}`, `Clamp ${i}: set the dock clamp torque to ${(i % 40) + 10} newton metres and log reading ${(i * 7) % 100} on sheet ${i}.`);
  return `${parts.join("\n\n")}\n`;
}

describe("graceful shutdown under load", () => {
  let fixture: FileStack;
  let config: Config;
  let configFile: string;
  let runtime: Runtime;
  let children: ChildProcess[];

  beforeAll(async () => {
    // The default job lock: a lock lapsing on a busy machine would count as an interruption, which this test rules out.
    fixture = await openFileStack("shutdown-load", { queue: { lockDurationMs: 15_000, stalledIntervalMs: 5_000, backoffMs: 50 } });
    ({ config, configFile, runtime, children } = fixture);
  });

  afterAll(async () => {
    await fixture?.stop();
  });

  const submit = async (id: string, text: string) => {
    const key = uploadKey(randomUUID());
    await runtime.store.put(key, text);
    return submitDocument({ config, store: runtime.store, queue: runtime.queue }, { documentId: id, mode: "upsert", upload: { key, size: text.length, filename: `${id}.md`, contentType: "text/markdown" }, tags: [] });
  };

  it("a worker on SIGTERM finishes the job it is running, then exits 0; nothing is left for another worker", async () => {
    const worker = startCli({ ...process.env, RAGOPS_CONFIG: configFile }, "worker", "--concurrency", "1");
    children.push(worker.child);
    await worker.stderrMatches(/worker running/);
    const job = await submit("clamp-manual", manual(1500));
    await until(async () => ((await runtime.queue.getJob(job.jobId))?.progress as { stage?: string } | undefined)?.stage === "embedding" || undefined, "the job to reach embedding");
    worker.child.kill("SIGTERM");
    const ended = await worker.exited;
    expect(ended.status, ended.err).toBe(0);
    const finished = await runtime.queue.getJob(job.jobId);
    expect(await finished?.getState()).toBe("completed");
    expect(finished?.stalledCounter ?? 0).toBe(0);
    expect((await getDocument({ store: runtime.store }, "clamp-manual")).status).toBe("indexed");
  });

  it("a control plane shutting down answers every search it had received, with 200, and refuses the rest at the connection", async () => {
    // In this process, to see which requests the server received; SIGTERM runs this same close() (src/cli/serve-command.ts).
    const server = await startServer(runtime);
    const received = new Map<string, Promise<void>>();
    server.server.on("request", (req: IncomingMessage, res: ServerResponse) => {
      received.set(String(req.headers["x-request-id"]), new Promise((resolve) => res.once("close", () => resolve())));
    });
    const outcomes = new Map<string, Promise<{ status?: number; error?: string }>>();
    let stopping = false;
    // Ten clients searching back to back until the server has gone.
    const client = async () => {
      for (;;) {
        const id = randomUUID();
        const outcome = searchOnce(server.url, id);
        outcomes.set(id, outcome);
        const { status } = await outcome;
        if (status !== 200 && stopping) return;
      }
    };
    const clients = Array.from({ length: 10 }, () => client());
    await until(async () => ((await Promise.all([...outcomes.values()].slice(0, 30))).length >= 30 ? true : undefined), "30 searches answered");
    stopping = true;
    await server.close();
    await Promise.all(clients);
    await Promise.all(received.values());
    const ended = new Map(await Promise.all([...outcomes].map(async ([id, outcome]) => [id, await outcome] as const)));
    const answered = [...received.keys()].map((id) => ended.get(id));
    expect(answered.filter((o) => o?.status !== 200)).toEqual([]);
    // What the server never received ended at the connection (refused, or reset before a byte was read): safe to retry.
    const notReceived = [...ended].filter(([id]) => !received.has(id)).map(([, o]) => o);
    expect(notReceived.filter((o) => o.status !== undefined || !["ECONNREFUSED", "ECONNRESET"].includes(o.error ?? ""))).toEqual([]);
    expect(answered.length).toBeGreaterThanOrEqual(30);
  });
});
