import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { uploadKey } from "../../core/documents.js";
import { freePort } from "../../src/dev/local-redis.js";
import { submitDocument } from "../../src/documents/service.js";
import { searchApi, startStack, type Stack } from "../support/stack.js";
import { sectioned } from "../support/sync-fixtures.js";
import { until } from "../support/until.js";
import { allTerminal, corpusDamage, expectReconcileClean } from "./corpus.js";
import { recordTally } from "./tally.js";

async function pings(url: string): Promise<true | undefined> {
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG" || undefined;
  } catch {
    return undefined;
  } finally {
    client.disconnect();
  }
}

function bigDocument(sections = 2500): string {
  const parts = ["# Pump manual"];
  for (let i = 0; i < sections; i += 1) parts.push(`## Check ${i}`, `Check ${i}: pump ${2000 + i} runs at ${(i % 50) + 20} litres a minute; if the seal at joint ${(i * 11) % 90} weeps, replace gasket ${i}.`);
  return `${parts.join("\n\n")}\n`;
}

/**
 * Redis SIGKILLed mid-ingest and started again on the same port and
 * directory, with AOF (fsync always), as a Memorystore failover with
 * persistence would: the control plane and the worker in this process lose
 * every connection for the outage, reconnect, and the ingest finishes.
 */
describe("Redis killed mid-ingest and restarted with its AOF", () => {
  let dir: string;
  let port: number;
  let redis: ChildProcess | undefined;
  let stack: Stack | undefined;

  const startRedis = async () => {
    redis = spawn("redis-server", ["--port", String(port), "--bind", "127.0.0.1", "--dir", dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "", "--logfile", join(dir, "redis.log")], { stdio: "ignore" });
    await until(() => pings(`redis://127.0.0.1:${port}`), "redis-server to answer");
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ragops-fault-redis-"));
    port = await freePort();
    await startRedis();
  });

  afterAll(async () => {
    await stack?.stop().catch(() => undefined);
    redis?.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  });

  it("loses nothing and duplicates nothing; reconcile clean", async () => {
    // Short locks, so a job whose lock lapsed in the outage is taken back soon after.
    stack = await startStack({ redis: { url: `redis://127.0.0.1:${port}`, prefix: `rr${randomUUID().slice(0, 6)}` }, queue: { lockDurationMs: 1_500, stalledIntervalMs: 700, backoffMs: 50, attempts: 5 }, sync: { lockTtlMs: 1_500 } });
    const { config, runtime } = stack;
    const submit = async (id: string, text: string) => {
      const key = uploadKey(randomUUID());
      await runtime.store.put(key, text);
      return submitDocument({ config, store: runtime.store, queue: runtime.queue }, { documentId: id, mode: "upsert", upload: { key, size: text.length, filename: `${id}.md`, contentType: "text/markdown" }, tags: [] });
    };
    const big = await submit("pump-manual", bigDocument());
    const small = ["note-1", "note-2", "note-3"];
    for (const [i, id] of small.entries()) await submit(id, sectioned(90 + i, 3));

    await until(async () => ((await runtime.queue.getJob(big.jobId))?.progress as { stage?: string } | undefined)?.stage === "embedding" || undefined, "the big job to reach embedding");
    const printed = vi.spyOn(console, "error");
    const exited = new Promise((resolve) => redis?.once("exit", resolve));
    redis?.kill("SIGKILL");
    await exited;
    // The outage outlasts the job locks (1.5 s): the worker's lock renewals fail while Redis is away.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    await startRedis();

    const ids = ["pump-manual", ...small];
    const statuses = await until(() => allTerminal(runtime, ids), "every document to reach a terminal state", 50_000);
    expect(statuses).toEqual(Object.fromEntries(ids.map((id) => [id, "indexed"])));
    // The outage is logged by the workers, once; not a raw stack per reconnect attempt per queue.
    expect(printed.mock.calls.map((args) => String(args[0]).split("\n")[0])).toEqual([]);
    printed.mockRestore();
    await expectReconcileClean(runtime);
    const damage = await corpusDamage(runtime);
    const { status, body } = await searchApi(stack.url, { query: "pump 2042 litres a minute", k: 3 });
    expect(status).toBe(200);
    expect(body.results[0]?.documentId).toBe("pump-manual");
    recordTally({ scenario: "Redis SIGKILL mid-ingest, restarted with AOF", faults: 1, recoveries: 1, ...damage });
    expect(damage).toEqual({ lost: 0, duplicates: 0 });
  });
});
