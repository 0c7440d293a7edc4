import { spawnSync } from "node:child_process";
import { appendFileSync, cpSync, mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { createIngestQueueEvents } from "../src/queues/ingest-queue.js";
import { createRefreshQueue, schedulerId } from "../src/queues/refresh-queue.js";
import { createLocalDirSource } from "../src/sources/local-dir.js";
import type { DocumentSource } from "../src/sources/source.js";
import { runRefresh, type RefreshSummary } from "../src/documents/refresh.js";
import { BACKENDS } from "./support/backends.js";
import { indexContents, searchApi, startStack, type Stack } from "./support/stack.js";

/** The local folder source, counting how many files the refresh really reads. */
async function countingSource(dir: string): Promise<DocumentSource & { reads: number }> {
  const inner = await createLocalDirSource(dir);
  const source = { uri: inner.uri, list: () => inner.list(), reads: 0, read: (entry: Parameters<DocumentSource["read"]>[0]) => ((source.reads += 1), inner.read(entry)) };
  return source;
}

describe.each(BACKENDS)("refresh from a folder on $name", (backend) => {
  let stack: Stack;
  let stop: () => Promise<void> = async () => undefined;
  let liveIds: () => Promise<string[]>;
  let dir: string;
  const refresh = async (options: { dryRun?: boolean } = {}): Promise<{ summary: RefreshSummary; reads: number }> => {
    const source = await countingSource(dir);
    const events = await createIngestQueueEvents(stack.config);
    try {
      return { summary: await runRefresh(stack.runtime, source, { events, ...options }), reads: source.reads };
    } finally {
      await events.close();
    }
  };

  beforeAll(async () => {
    ({ stack, stop, liveIds } = await backend.start());
    dir = mkdtempSync(join(tmpdir(), "ragops-source-"));
    for (const name of ["charging-dock-setup.md", "error-code-reference.md", "travel-and-expenses-policy.txt", "safety-system.md"]) cpSync(join("examples", "corpus", name), join(dir, name));
  });

  afterAll(async () => {
    await stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("ingests every file the first time", async () => {
    const { summary } = await refresh();
    expect(summary).toMatchObject({ scanned: 4, added: 4, changed: 0, deleted: 0, failed: 0 });
    expect(summary.chunksEmbedded).toBeGreaterThan(10);
    expect(summary.indexWrites).toBe(summary.chunksEmbedded);
  });

  it("skips unchanged files without reading them: no embedding, no index write", async () => {
    const { summary, reads } = await refresh();
    expect(summary).toMatchObject({ scanned: 4, unchanged: 4, changed: 0, added: 0, deleted: 0, chunksEmbedded: 0, indexWrites: 0, metadataWrites: 0, indexRemovals: 0 });
    expect(reads).toBe(0);
  });

  it("reads a touched file once, finds its bytes unchanged, and skips it unread the next time", async () => {
    const file = join(dir, "safety-system.md");
    const later = new Date(Date.now() + 60_000);
    utimesSync(file, later, later);
    const touched = await refresh();
    expect(touched.summary).toMatchObject({ unchanged: 4, changed: 0, chunksEmbedded: 0, indexWrites: 0 });
    expect(touched.reads).toBe(1);
    expect((await refresh()).reads).toBe(0);
  });

  it("re-embeds only what an edit changed, and deletes what vanished", async () => {
    appendFileSync(join(dir, "charging-dock-setup.md"), "\n## Dock firmware\n\nThe CD-10 dock firmware updates itself overnight from Flock when the robot is docked.\n");
    rmSync(join(dir, "travel-and-expenses-policy.txt"));
    writeFileSync(join(dir, "new-note.md"), "# Pallet wrap\n\nLoose pallet wrap trailing on the floor is the most common cause of E401 drive overcurrent faults.\n");
    const dry = await refresh({ dryRun: true });
    expect(dry.summary).toMatchObject({ dryRun: true, changed: 1, added: 1, deleted: 1, chunksEmbedded: 0 });
    expect(dry.summary.details).toMatchObject({ changed: ["charging-dock-setup.md"], added: ["new-note.md"], deleted: ["travel-and-expenses-policy.txt"] });
    const before = await indexContents(stack, liveIds);

    const { summary } = await refresh();
    expect(summary).toMatchObject({ changed: 1, added: 1, deleted: 1, failed: 0 });
    expect(summary.chunksEmbedded).toBeLessThanOrEqual(3);
    const after = await indexContents(stack, liveIds);
    expect([...after.values()].some((t) => t.includes("updates itself overnight"))).toBe(true);
    expect([...after.values()].some((t) => t.includes("Hotel"))).toBe(false);
    // Everything the edit did not touch kept its datapoint.
    const kept = [...before.keys()].filter((id) => after.has(id)).length;
    expect(kept).toBeGreaterThanOrEqual(before.size - summary.indexRemovals);
    expect((await searchApi(stack.url, { query: "pallet wrap drive overcurrent", k: 1 })).body.results[0]?.documentId).toBe("new-note.md");
  });
});

describe("the scheduled refresh", () => {
  let stack: Stack;
  let dir: string;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "ragops-scheduled-"));
    cpSync(join("examples", "corpus", "error-code-reference.md"), join(dir, "error-code-reference.md"));
    // Every second, so the test does not wait for 02:00.
    stack = await startStack({ refresh: { cron: "* * * * * *", sources: [dir] } });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("runs from the cron schedule in config and indexes the folder", async () => {
    const queue = createRefreshQueue(stack.config);
    try {
      expect((await queue.getJobSchedulers()).map((s) => s.key)).toEqual([schedulerId(dir)]);
      // Waits for the first scheduled run however long a busy machine takes (the test timeout bounds it).
      let completed: unknown[] = [];
      while (completed.length === 0) {
        completed = (await queue.getJobs(["completed"])).map((j) => j.returnvalue);
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      expect(completed[0]).toMatchObject({ scanned: 1, failed: 0 });
      expect((await searchApi(stack.url, { query: "E402 wheel encoder fault", k: 1 })).body.results[0]?.documentId).toBe("error-code-reference.md");
      await queue.removeJobScheduler(schedulerId(dir));
    } finally {
      await queue.close();
    }
  });
});

describe("ragops ingest, then ragops refresh of the same folder", () => {
  it("recognises the ingested files as unchanged", () => {
    const dir = mkdtempSync(join(tmpdir(), "ragops-ingest-then-refresh-"));
    cpSync(join("examples", "corpus", "battery-care-and-replacement.md"), join(dir, "battery-care-and-replacement.md"));
    const env = { ...process.env, REDIS_URL: inject("redisUrl"), RAGOPS_DATA_DIR: mkdtempSync(join(tmpdir(), "ragops-cli-")), RAGOPS_REDIS_PREFIX: `itr${process.pid}` };
    const cli = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", ...args], { env, encoding: "utf8", timeout: 60_000 });
    expect(cli("ingest", dir).status).toBe(0);
    const refreshed = cli("refresh", "--source", dir, "--json");
    expect(refreshed.status, refreshed.stderr).toBe(0);
    expect(JSON.parse(refreshed.stdout)).toMatchObject({ scanned: 1, unchanged: 1, added: 0, chunksEmbedded: 0, indexWrites: 0 });
    rmSync(dir, { recursive: true, force: true });
  });
});

describe("ragops refresh", () => {
  it("prints a summary and exits 0, and --dry-run changes nothing", () => {
    const dir = mkdtempSync(join(tmpdir(), "ragops-cli-source-"));
    cpSync(join("examples", "corpus", "customer-support-slas.md"), join(dir, "customer-support-slas.md"));
    const env = { ...process.env, REDIS_URL: inject("redisUrl"), RAGOPS_DATA_DIR: mkdtempSync(join(tmpdir(), "ragops-cli-")), RAGOPS_REDIS_PREFIX: `cli${process.pid}` };
    const run = (...args: string[]) => spawnSync(process.execPath, ["--import", "tsx", "src/cli/main.ts", "refresh", "--source", dir, "--json", ...args], { env, encoding: "utf8", timeout: 60_000 });
    const dry = run("--dry-run");
    expect(dry.status).toBe(0);
    expect(JSON.parse(dry.stdout)).toMatchObject({ dryRun: true, added: 1 });
    const real = run();
    expect(real.status, real.stderr).toBe(0);
    expect(JSON.parse(real.stdout)).toMatchObject({ added: 1, failed: 0 });
    expect(JSON.parse(run().stdout)).toMatchObject({ unchanged: 1, chunksEmbedded: 0, indexWrites: 0 });
    rmSync(dir, { recursive: true, force: true });
  });
});
