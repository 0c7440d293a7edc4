import { spawn, type ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../config/load.js";
import type { Config } from "../config/schema.js";
import { chunkDocument } from "../ingest/chunk-document.js";
import { parseMarkdown } from "../ingest/parsers/markdown.js";
import { uploadKey } from "../core/documents.js";
import { getDocument, submitDocument } from "../src/documents/service.js";
import { openRuntime, type Runtime } from "../src/runtime.js";
import { manifestChunks } from "../indexer/sync/manifest.js";
import { profileKey, registryPrefix } from "../indexer/sync/profile.js";
import { createChunkRegistry } from "../indexer/sync/registry.js";
import { createChunkStore } from "../indexer/sync/chunk-store.js";
import { listIndexIds } from "./support/stack.js";
import { until } from "./support/until.js";

/** A document big enough that its job is still running when the worker is killed. */
function bigDocument(seed: number, sections = 3000): string {
  const parts = [`# Manual ${seed}`];
  for (let i = 0; i < sections; i += 1) {
    parts.push(`## Step ${seed}.${i}`, `Step ${i} of procedure ${seed}: tighten bolt ${seed * 1000 + i} to ${(i % 40) + 10} newton metres, then check the gauge reads ${(i * 7) % 100} and note it in log ${seed}-${i}.`);
  }
  return `${parts.join("\n\n")}\n`;
}

function startWorker(configFile: string): ChildProcess {
  return spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "worker", "--concurrency", "1"], {
    env: { ...process.env, RAGOPS_CONFIG: configFile },
    stdio: ["ignore", "ignore", "ignore"],
  });
}

describe("a worker killed mid-job", () => {
  let config: Config;
  let configFile: string;
  let survivorConfigFile: string;
  let runtime: Runtime;
  const workers: ChildProcess[] = [];

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "ragops-crash-"));
    const settings = {
      dataDir,
      redis: { url: inject("redisUrl"), prefix: `crash${randomUUID().slice(0, 6)}` },
      queue: { lockDurationMs: 1_500, stalledIntervalMs: 700, backoffMs: 50 },
      sync: { lockTtlMs: 1_500 },
      log: { level: "silent" },
    };
    configFile = join(dataDir, "ragops.json");
    writeFileSync(configFile, JSON.stringify(settings));
    // The worker that takes the job over holds its claim as a deployment does (the default lock): with
    // the short one a busy machine can stall its event loop past it and count a second interruption,
    // failing the job for a reason this test is not about (seen in CI). Its stall check stays quick.
    survivorConfigFile = join(dataDir, "ragops-survivor.json");
    writeFileSync(survivorConfigFile, JSON.stringify({ ...settings, queue: { ...settings.queue, lockDurationMs: 15_000 } }));
    config = loadConfig({ env: {}, file: configFile });
    runtime = await openRuntime(config);
  });

  afterEach(async () => {
    // Each case starts with no worker, or a survivor from the last case would take its job.
    await Promise.all(workers.splice(0).map((w) => (w.exitCode === null && w.signalCode === null ? new Promise((resolve) => (w.once("exit", resolve), w.kill("SIGKILL"))) : undefined)));
  });

  afterAll(async () => {
    await runtime?.queue.obliterate({ force: true }).catch(() => undefined);
    await runtime?.close();
    if (config) rmSync(config.dataDir, { recursive: true, force: true });
  });

  // Killed when the job reports a stage, not after a delay: on a busy machine a delay may land anywhere.
  it.each([
    ["parsing", 1],
    ["embedding", 2],
    ["indexing", 3],
  ] as const)("leaves no duplicate and no missing chunk when killed while %s and retried", async (stage, seed) => {
    const id = `manual-${stage}`;
    const text = bigDocument(seed);
    const key = uploadKey(randomUUID());
    await runtime.store.put(key, text);
    const first = startWorker(configFile);
    workers.push(first);
    const { jobId } = await submitDocument(
      { config, store: runtime.store, queue: runtime.queue },
      { documentId: id, mode: "upsert", upload: { key, size: text.length, filename: `${id}.md`, contentType: "text/markdown" }, tags: [] },
    );
    await until(async () => ((await runtime.queue.getJob(jobId))?.progress as { stage?: string } | undefined)?.stage === stage || undefined, `the job to reach ${stage}`);
    first.kill("SIGKILL");

    workers.push(startWorker(survivorConfigFile));
    const job = await until(
      async () => {
        const j = await runtime.queue.getJob(jobId);
        const state = await j?.getState();
        return state === "completed" || state === "failed" ? { state, reason: j?.failedReason, interrupted: (j?.stalledCounter ?? 0) >= 1 } : undefined;
      },
      "the retried job to finish",
      120_000,
    );
    // The kill really interrupted the job (BullMQ counted it as stalled), and the retry completed it.
    expect(job).toEqual({ state: "completed", reason: undefined, interrupted: true });
    expect((await getDocument({ store: runtime.store }, id)).status).toBe("indexed");

    const expected = new Set(
      manifestChunks(chunkDocument(parseMarkdown(Buffer.from(text)), { documentId: id, version: 1, source: `${id}.md`, contentType: "text/markdown", tags: [] }, config.chunking)).map((c) => c.hash),
    );
    const index = await runtime.index();
    const held = await listIndexIds(index);
    const mine = held.filter((h) => expected.has(h));
    expect(mine.length).toBe(expected.size); // none missing
    expect(new Set(held).size).toBe(held.length); // none twice
    const registry = createChunkRegistry(runtime.redis, registryPrefix(config.redis.prefix, profileKey(config)));
    expect(await registry.docRefs(id)).toEqual(expected);
    // Search can show every chunk: each has its chunk store entry.
    const entries = await createChunkStore(runtime.redis, registryPrefix(config.redis.prefix, profileKey(config))).get([...expected]);
    expect(new Set(entries.keys())).toEqual(expected);
  });
});
