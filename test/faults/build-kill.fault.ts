import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import { startServer, type RunningServer } from "../../src/http/server.js";
import { createLifecycleQueue } from "../../src/queues/lifecycle-queue.js";
import { openRuntime, type Runtime } from "../../src/runtime.js";
import { putDocument, searchApi, waitForJob } from "../support/stack.js";
import { until } from "../support/until.js";
import { allTerminal, expectReconcileClean, reconcileDamage } from "./corpus.js";
import { recordTally } from "./tally.js";

function manual(seed: number, sections: number): string {
  const parts = [`# Manual ${seed}`];
  for (let i = 0; i < sections; i += 1) parts.push(`## Step ${seed}.${i}`, `Step ${i} of procedure ${seed}: set valve ${seed * 1000 + i} to ${(i % 30) + 5} bar, then log reading ${(i * 13) % 97} in book ${seed}.`);
  return `${parts.join("\n\n")}\n`;
}

function startWorker(configFile: string): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "worker", "--concurrency", "1"], { env: { ...process.env, RAGOPS_CONFIG: configFile }, stdio: "ignore" });
}

const post = async (url: string, path: string, body: unknown) => {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-ragops-actor": "faults" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

describe("a worker SIGKILLed mid-build and restarted", () => {
  let config: Config;
  let configFile: string;
  let runtime: Runtime;
  let server: RunningServer;
  let lifecycle: ReturnType<typeof createLifecycleQueue>;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "ragops-fault-build-"));
    configFile = join(dataDir, "ragops.json");
    const settings = { dataDir, redis: { url: inject("redisUrl"), prefix: `fb${randomUUID().slice(0, 6)}` }, queue: { lockDurationMs: 1_500, stalledIntervalMs: 700, backoffMs: 50 }, sync: { lockTtlMs: 1_500 }, http: { port: 0 }, log: { level: "silent" } };
    writeFileSync(configFile, JSON.stringify(settings));
    config = loadConfig({ env: {}, file: configFile });
    runtime = await openRuntime(config);
    server = await startServer(runtime);
    lifecycle = createLifecycleQueue(config);
  });

  afterAll(async () => {
    for (const w of workers) if (w.exitCode === null && w.signalCode === null) w.kill("SIGKILL");
    await server?.close(500);
    await lifecycle?.obliterate({ force: true }).catch(() => undefined);
    await lifecycle?.close();
    await runtime?.queue.obliterate({ force: true }).catch(() => undefined);
    await runtime?.close();
    if (config) rmSync(config.dataDir, { recursive: true, force: true });
  });

  it("finishes the green version, which swaps in whole and answers; reconcile clean", async () => {
    workers.push(startWorker(configFile));
    const ids = ["m1", "m2", "m3", "m4"];
    for (const [i, id] of ids.entries()) expect((await putDocument(server.url, id, manual(i + 1, 400))).state).toBe("completed");

    const created = await post(server.url, "/v1/indexes", { version: "v2", config: { chunking: { sizeTokens: 300 } } });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    const buildJobId = String(created.body.buildJobId);
    // Killed once the build reports its first document done, mid-way through the corpus.
    await until(async () => {
      const job = await lifecycle.getJob(buildJobId);
      const detail = (job?.progress as { detail?: string } | undefined)?.detail ?? "";
      return /^[1-3]\/4 documents/.test(detail) || undefined;
    }, "the build to finish its first document");
    workers[0]?.kill("SIGKILL");
    workers.push(startWorker(configFile));

    const job = await waitForJob(server.url, buildJobId, 50_000);
    expect(job.state, job.failedReason).toBe("completed");
    expect((await lifecycle.getJob(buildJobId))?.stalledCounter ?? 0, "the kill interrupted the build").toBeGreaterThanOrEqual(1);
    const swapped = await post(server.url, "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1", force: true, reason: "fault suite" });
    expect(swapped).toMatchObject({ status: 200, body: { live: "v2", previous: "v1" } });

    expect(await allTerminal(runtime, ids)).toEqual(Object.fromEntries(ids.map((id) => [id, "indexed"])));
    const report = await expectReconcileClean(runtime);
    expect(report.versions.map((v) => v.version).sort()).toEqual(["v1", "v2"]);
    const { status, body } = await searchApi(server.url, { query: "set valve 3042 bar", k: 1 });
    expect(status).toBe(200);
    expect(body.results[0]?.documentId).toBe("m3");
    recordTally({ scenario: "worker SIGKILL mid-build, then swap", faults: 1, recoveries: 1, ...reconcileDamage(report) });
  });
});
