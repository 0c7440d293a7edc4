import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { documentKey, type DocumentRecord } from "../core/documents.js";
import { readJson, updateJson } from "../core/json-records.js";
import type { Finding } from "../indexer/reconcile/findings.js";
import type { ReconcileReport } from "../indexer/reconcile/reconcile.js";
import type { StoredRestricts, VectorIndex } from "../indexer/indexes/vector-index.js";
import { readManifest } from "../indexer/sync/manifest.js";
import { profileKey, registryPrefix } from "../indexer/sync/profile.js";
import { readChunkStore, readRegistrySnapshot } from "../indexer/sync/registry-snapshot.js";
import { addReconcileCommand } from "../src/cli/reconcile-command.js";
import { newToken } from "../src/http/tokens.js";
import { runReconcile } from "../src/reconcile.js";
import { createLifecycleQueue, syncReconcileSchedule } from "../src/queues/lifecycle-queue.js";
import { listIndexIds, putDocument, startStack, testConfig, waitForJob, type Stack } from "./support/stack.js";
import { sectioned } from "./support/sync-fixtures.js";

/**
 * Reconcile on a corpus built by the real sync path (HTTP upload, worker,
 * LanceDB, Redis): each kind of drift injected by hand is found exactly,
 * a check changes nothing, a repair fixes it and a check after finds nothing.
 */
describe("ragops reconcile", () => {
  let stack: Stack;
  let index: VectorIndex;
  let prefix: string;
  let profile: string;
  const chunks = new Map<string, string[]>();

  beforeAll(async () => {
    stack = await startStack();
    await putDocument(stack.url, "alpha", sectioned(1, 4), { tags: "hr,policy", date: "2024-03-01" });
    await putDocument(stack.url, "beta", sectioned(2, 3), { tags: "hardware" });
    await putDocument(stack.url, "gamma", sectioned(3, 3));
    await putDocument(stack.url, "alpha-copy", sectioned(1, 4, { changed: true }), { tags: "draft" }); // near-duplicates of alpha's chunks
    profile = profileKey(stack.config);
    prefix = registryPrefix(stack.config.redis.prefix, profile);
    index = await stack.runtime.index();
    for (const id of ["alpha", "beta", "gamma", "alpha-copy"]) chunks.set(id, (await readManifest(stack.runtime.store, profile, id))?.chunks.map((c) => c.hash) ?? []);
  }, 60_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const check = () => runReconcile(stack.runtime, {});
  const repair = () => runReconcile(stack.runtime, { repair: true });
  const chunksOf = (id: string) => chunks.get(id) as string[];
  /** Everything a reconcile could change: the index's rows and restricts, the registry, the chunk store, the document records. */
  const state = async () => {
    const ids = (await listIndexIds(index)).sort();
    const records = [];
    for (const id of chunks.keys()) records.push((await readJson<DocumentRecord>(stack.runtime.store, documentKey(id)))?.value);
    return { ids, held: await index.fetch(ids), registry: await readRegistrySnapshot(stack.runtime.redis, prefix), entries: await readChunkStore(stack.runtime.redis, prefix), records };
  };
  const kinds = (report: ReconcileReport) => report.findings.map((f) => `${f.kind}:${"id" in f ? f.id : f.documentId}`).sort();
  const unitVector = () => Array.from({ length: index.dimensions }, (_, i) => (i === 0 ? 1 : 0));

  /** The near-duplicates of alpha that alpha-copy references: linked, so not indexed. */
  const linkedNearDuplicates = async () => {
    const registry = await readRegistrySnapshot(stack.runtime.redis, prefix);
    return chunksOf("alpha-copy").filter((h) => registry.dupOf.has(h));
  };

  it("finds nothing on a corpus sync built, and says which version it checked", async () => {
    expect(await linkedNearDuplicates()).not.toEqual([]);
    expect((await listIndexIds(index)).length).toBe(await index.count());
    const report = await check();
    expect(report.findings).toEqual([]);
    expect(report.clean).toBe(true);
    expect(report.versions).toEqual([{ version: "v1", profile, listed: true }]);
  });

  type Drift = "missing" | "orphan" | "restricts" | "near-duplicate" | "rows" | "registry" | "stuck";
  /** Injects one drift on its own chunk or document; returns the finding a check must report for it. */
  const inject = async (drift: Drift, n: number): Promise<string> => {
    const pick = (id: string) => chunksOf(id)[n % chunksOf(id).length] as string;
    switch (drift) {
      case "missing": {
        const h = pick("gamma");
        await index.remove([h]);
        return `missing:${h}`;
      }
      case "orphan": {
        const id = `${n}`.padStart(64, "f");
        await index.upsert([{ id, vector: unitVector(), restricts: { documentIds: ["nobody"], tags: [], contentTypes: ["text/markdown"] }, numericRestricts: {} }]);
        return `orphan:${id}`;
      }
      case "restricts": {
        const h = pick("alpha");
        const held = (await index.fetch([h])).get(h) as StoredRestricts;
        await index.updateRestricts([{ id: h, restricts: { ...held.restricts, tags: ["wrong"] }, numericRestricts: { date: 1 } }]);
        return `stale-restricts:${h}`;
      }
      case "near-duplicate": {
        const dups = await linkedNearDuplicates();
        const h = dups[n % dups.length] as string;
        await index.upsert([{ id: h, vector: unitVector(), restricts: { documentIds: ["alpha-copy"], tags: ["draft"], contentTypes: ["text/markdown"] }, numericRestricts: {} }]);
        return `duplicate:${h}`;
      }
      case "rows": {
        const h = pick("beta");
        await addRowAgain(h);
        return `duplicate:${h}`;
      }
      case "registry": {
        const h = pick("beta");
        await stack.runtime.redis.del(`${prefix}:ref:${h}`);
        return `registry:${h}`;
      }
      case "stuck": {
        await updateJson<DocumentRecord>(stack.runtime.store, documentKey("gamma"), (current) => ({ ...(current as DocumentRecord), status: "processing", jobId: "ingest-gamma-v1-gone", updatedAt: new Date(Date.now() - 3_600_000).toISOString() }));
        return "stuck:gamma";
      }
    }
  };

  /** A second row with an id the table holds, written past the adapter (its upsert merges by id). */
  const addRowAgain = async (id: string) => {
    const lancedb = await import("@lancedb/lancedb");
    const db = await lancedb.connect(join(stack.config.dataDir, "lancedb"));
    const table = await db.openTable("chunks_v1");
    await table.add(await table.query().where(`id = '${id}'`).toArrow());
    table.close();
  };

  /** After a repair that queued a document's job again: waits for it, so the next check sees the document settled. */
  const settleRequeued = async (report: ReconcileReport) => {
    for (const f of report.findings.filter((x): x is Extract<Finding, { kind: "stuck" }> => x.kind === "stuck")) {
      const record = (await readJson<DocumentRecord>(stack.runtime.store, documentKey(f.documentId)))?.value as DocumentRecord;
      expect(record.jobId).not.toBe(f.jobId);
      expect((await waitForJob(stack.url, record.jobId)).state).toBe("completed");
      expect((await readJson<DocumentRecord>(stack.runtime.store, documentKey(f.documentId)))?.value.status).toBe("indexed");
    }
  };

  const drifts: Drift[] = ["missing", "orphan", "restricts", "near-duplicate", "rows", "registry", "stuck"];
  for (const drift of drifts) {
    it(`finds exactly a ${drift} drift, changes nothing while checking, repairs it and then finds nothing`, async () => {
      const expected = await inject(drift, 1);
      const before = await state();
      const found = await check();
      expect(kinds(found)).toEqual([expected]);
      expect(found.clean).toBe(false);
      expect(await state()).toEqual(before);

      const repaired = await repair();
      expect(kinds(repaired)).toEqual([expected]);
      expect(repaired.repair?.remaining).toEqual([]);
      expect(repaired.repair?.clean).toBe(true);
      await settleRequeued(repaired);
      expect((await check()).findings).toEqual([]);
    });
  }

  it("repairs a missing datapoint from the embedding cache, with the restricts sync wrote", async () => {
    const h = chunksOf("alpha")[0] as string;
    const held = (await index.fetch([h])).get(h);
    await index.remove([h]);
    const repaired = await repair();
    expect(repaired.findings).toEqual([expect.objectContaining({ kind: "missing", id: h, cached: true })]);
    expect(repaired.repair?.applied).toMatchObject({ upserted: 1, embedded: 0 });
    expect((await index.fetch([h])).get(h)).toEqual(held);
  });

  it("finds exactly any set of drifts injected together, and one repair fixes them all", async () => {
    await fc.assert(
      fc.asyncProperty(fc.subarray(drifts, { minLength: 1 }), fc.nat(20), async (chosen, n) => {
        const expected: string[] = [];
        for (const drift of chosen) expected.push(await inject(drift, n));
        const found = await check();
        expect(kinds(found)).toEqual(expected.sort());
        const repaired = await repair();
        expect(repaired.repair?.remaining).toEqual([]);
        await settleRequeued(repaired);
        expect((await check()).findings).toEqual([]);
      }),
      { numRuns: 6 },
    );
  }, 240_000);
});

describe("ragops reconcile from the command line", () => {
  let stack: Stack;
  let dir: string;
  let printed: string[];

  beforeAll(async () => {
    stack = await startStack();
    await putDocument(stack.url, "manual", sectioned(7, 3), { tags: "hardware" });
    dir = mkdtempSync(join(tmpdir(), "ragops-reconcile-cli-"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ dataDir: stack.config.dataDir, redis: stack.config.redis }));
  }, 30_000);

  afterAll(async () => {
    vi.restoreAllMocks();
    process.exitCode = undefined;
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  /** `ragops reconcile <args>` in this process: what it printed and the exit status it set. */
  const ragops = async (...args: string[]): Promise<{ status: number; out: string }> => {
    printed = [];
    const spy = vi.spyOn(console, "log").mockImplementation((...parts: unknown[]) => void printed.push(parts.join(" ")));
    const program = new Command().option("-c, --config <file>").option("--data-dir <dir>").option("--redis-url <url>").option("--log-level <level>").exitOverride();
    addReconcileCommand(program);
    process.exitCode = undefined;
    try {
      await program.parseAsync(["--config", join(dir, "config.json"), "--log-level", "silent", "reconcile", ...args], { from: "user" });
    } finally {
      spy.mockRestore();
    }
    const status = Number(process.exitCode ?? 0);
    process.exitCode = undefined;
    return { status, out: printed.join("\n") };
  };

  it("exits 0 and prints a clean JSON report when nothing differs", async () => {
    const run = await ragops("--json");
    expect(run.status).toBe(0);
    expect(JSON.parse(run.out)).toMatchObject({ clean: true, findings: [], versions: [{ version: "v1", listed: true }], counts: { missing: 0, orphan: 0, stuck: 0 } });
  });

  it("exits 1 on drift with a summary table and the details; --dry-run prints the plan and changes nothing; --repair exits 0 once fixed", async () => {
    const index = await stack.runtime.index();
    const orphan = "e".repeat(64);
    await index.upsert([{ id: orphan, vector: Array.from({ length: index.dimensions }, (_, i) => (i === 1 ? 1 : 0)), restricts: { documentIds: ["ghost"], tags: [], contentTypes: ["text/plain"] }, numericRestricts: {} }]);
    const idsBefore = (await listIndexIds(index)).sort();

    const checked = await ragops();
    expect(checked.status).toBe(1);
    expect(checked.out).toMatch(/finding.*count/);
    expect(checked.out).toMatch(/orphan\s*│\s*1\s*│/);
    expect(checked.out).toMatch(/orphan \(1\):\n {2}v1: eeeeeeeeeeee is in the index but no manifest references it/);
    expect(checked.out).toMatch(/ragops reconcile --repair/);

    const json = await ragops("--json", "--version", "v1");
    expect(json.status).toBe(1);
    expect(JSON.parse(json.out)).toMatchObject({ clean: false, counts: { orphan: 1 }, findings: [{ kind: "orphan", version: "v1", id: orphan }] });

    const plan = await ragops("--dry-run", "--repair");
    expect(plan.status).toBe(1);
    expect(plan.out).toMatch(/→ remove the datapoint/);
    expect((await listIndexIds(index)).sort()).toEqual(idsBefore);

    const repaired = await ragops("--repair");
    expect(repaired.status).toBe(0);
    expect(repaired.out).toMatch(/repaired: 0 registries rebuilt, 0 datapoints upserted \(0 embedded again\), 1 removed/);
    expect(repaired.out).toMatch(/checked again: no drift left/);
    expect(await listIndexIds(index)).not.toContain(orphan);
    expect((await ragops()).status).toBe(0);
  });

  it("refuses a version that does not exist", async () => {
    await expect(ragops("--version", "v9")).rejects.toThrow(/v9/);
  });
});

describe("POST /v1/reconcile", () => {
  const operator = newToken();
  const content = newToken();
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ auth: { tokens: { ops: { hash: operator.hash, roles: ["operator"] }, editor: { hash: content.hash, roles: ["content"] } } } });
  }, 30_000);

  afterAll(async () => {
    await stack?.stop();
  });

  const post = (token: string, body: unknown) => fetch(`${stack.url}/v1/reconcile`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(body) });
  /** Follows the job until the lifecycle worker has run it. */
  const jobResult = async (jobId: string): Promise<{ state: string; result: ReconcileReport & { truncated: boolean } }> => {
    for (;;) {
      const response = await fetch(`${stack.url}/v1/jobs/${jobId}`, { headers: { authorization: `Bearer ${operator.token}` } });
      const body = (await response.json()) as { state: string; result: ReconcileReport & { truncated: boolean } };
      if (body.state === "completed" || body.state === "failed") return body;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  };

  it("needs the operator role", async () => {
    const refused = await post(content.token, {});
    expect(refused.status).toBe(403);
    expect(((await refused.json()) as { error: { message: string } }).error.message).toMatch(/operator/);
  });

  it("runs a dry run as a lifecycle job whose result holds the findings, and a repair that fixes them", async () => {
    const index = await stack.runtime.index();
    const orphan = "d".repeat(64);
    await index.upsert([{ id: orphan, vector: Array.from({ length: index.dimensions }, (_, i) => (i === 2 ? 1 : 0)), restricts: { documentIds: ["ghost"], tags: [], contentTypes: ["text/plain"] }, numericRestricts: {} }]);

    const dry = await post(operator.token, { dryRun: true, repair: true, version: "v1" });
    expect(dry.status).toBe(202);
    const queued = (await dry.json()) as { jobId: string; repair: boolean; dryRun: boolean; links: { job: string } };
    expect(queued).toMatchObject({ repair: false, dryRun: true, links: { job: `/v1/jobs/${queued.jobId}` } });
    const checked = await jobResult(queued.jobId);
    expect(checked.state).toBe("completed");
    expect(checked.result).toMatchObject({ clean: false, truncated: false, findings: [{ kind: "orphan", id: orphan }] });
    expect(await listIndexIds(index)).toContain(orphan);

    const repair = (await (await post(operator.token, { repair: true })).json()) as { jobId: string };
    const repaired = await jobResult(repair.jobId);
    expect(repaired.result.repair).toMatchObject({ clean: true, remaining: [], applied: { removed: 1 } });
    expect(await listIndexIds(index)).not.toContain(orphan);
  });

  it("answers 404 for an unknown version and 400 for an unknown field", async () => {
    expect((await post(operator.token, { version: "v9" })).status).toBe(404);
    expect((await post(operator.token, { fix: true })).status).toBe(400);
  });
});

describe("reconcile.cron", () => {
  it("puts one reconcile job scheduler on the lifecycle queue at the pattern, with reconcile.repair, and takes it off when unset", async () => {
    const config = testConfig({ reconcile: { cron: "30 3 * * *", repair: true } });
    const queue = createLifecycleQueue(config);
    try {
      expect(await syncReconcileSchedule(queue, config)).toBe(true);
      expect(await syncReconcileSchedule(queue, config)).toBe(true); // a second worker: still one
      const schedulers = await queue.getJobSchedulers();
      expect(schedulers).toEqual([expect.objectContaining({ key: "reconcile", pattern: "30 3 * * *", template: expect.objectContaining({ data: { repair: true, scheduled: true } }) })]);
      expect(await syncReconcileSchedule(queue, { ...config, reconcile: { cron: "", repair: false } })).toBe(false);
      expect(await queue.getJobSchedulers()).toEqual([]);
    } finally {
      await queue.obliterate({ force: true });
      await queue.close();
      rmSync(config.dataDir, { recursive: true, force: true });
    }
  });

  it("refuses a pattern that is not cron at start", () => {
    expect(() => testConfig({ reconcile: { cron: "every night" } })).toThrow(/reconcile\.cron.*not a valid cron expression/);
  });
});
