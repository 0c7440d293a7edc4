import { randomUUID } from "node:crypto";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { QueueEvents } from "bullmq";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { uploadKey } from "../core/documents.js";
import { UnavailableError } from "../core/errors.js";
import type { ObjectStore } from "../core/object-store.js";
import { readManifest } from "../indexer/sync/manifest.js";
import { profileKey } from "../indexer/sync/profile.js";
import { waitForJobs } from "../src/documents/ingest-files.js";
import { runRefresh } from "../src/documents/refresh.js";
import { getDocument, submitDocument } from "../src/documents/service.js";
import { clearFailure, listFailures, recordFailureEntry } from "../src/failures/ledger.js";
import { createIngestQueueEvents } from "../src/queues/ingest-queue.js";
import { openRuntime, type Runtime } from "../src/runtime.js";
import { createLocalDirSource } from "../src/sources/local-dir.js";
import { startWorkers, type Workers } from "../src/worker/worker.js";
import { startServer } from "../src/http/server.js";
import { newToken } from "../src/http/tokens.js";
import { cliRunner } from "./support/cli.js";
import { testConfig } from "./support/stack.js";

interface Harness {
  runtime: Runtime;
  workers: Workers;
  events: QueueEvents;
  stop(): Promise<void>;
}

async function harness(overrides: Record<string, unknown> = {}, wrapStore?: (store: ObjectStore) => ObjectStore): Promise<Harness> {
  const config = testConfig({ ingest: { parseProcesses: 1 }, ...overrides });
  const runtime = await openRuntime(config, wrapStore ? { wrapStore } : {});
  const workers = await startWorkers(runtime);
  const events = await createIngestQueueEvents(config);
  return {
    runtime,
    workers,
    events,
    stop: async () => {
      await events.close();
      await workers.close(500);
      await runtime.queue.obliterate({ force: true }).catch(() => undefined);
      await runtime.close();
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

async function put(h: Harness, id: string, body: string | Buffer, filename = `${id}.md`, contentType = "text/markdown") {
  const key = uploadKey(randomUUID());
  await h.runtime.store.put(key, body);
  const submitted = await submitDocument({ config: h.runtime.config, store: h.runtime.store, queue: h.runtime.queue }, { documentId: id, mode: "upsert", upload: { key, size: Buffer.byteLength(body), filename, contentType }, tags: [] });
  const outcome = (await waitForJobs(h.events, (jobId) => h.runtime.queue.getJob(jobId), [submitted.jobId])).get(submitted.jobId);
  return { key, ...submitted, outcome };
}

describe("the failure ledger, quarantine and cleanup", () => {
  let h: Harness;
  let dir: string;
  const refresh = async () => runRefresh(h.runtime, await createLocalDirSource(dir), { events: h.events });

  beforeAll(async () => {
    h = await harness();
    dir = mkdtempSync(join(tmpdir(), "ragops-ledger-"));
    writeFileSync(join(dir, "guide.md"), "# Guide\n\nReset the dock with the blue button.\n");
    copyFileSync(join("test", "fixtures", "truncated.pdf"), join(dir, "broken.pdf"));
  });

  afterAll(async () => {
    await h?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("lists a corrupt PDF with its stage and reason, quarantined", async () => {
    const summary = await refresh();
    expect(summary).toMatchObject({ added: 2, failed: 1, quarantined: 0 });
    const [entry] = await listFailures(h.runtime.store);
    expect(entry).toMatchObject({ id: "ingest:broken.pdf", kind: "ingest", subject: "broken.pdf", stage: "parsing", class: "deterministic", quarantined: true, attempts: 1 });
    expect(entry?.reason).toMatch(/truncated/);
    expect((await getDocument({ store: h.runtime.store }, "broken.pdf")).quarantine?.sha256).toBe(entry?.sha256);

    // The same entries through `ragops failures --json` (the CLI reads the ledger from the object store).
    const { config } = h.runtime;
    const cli = cliRunner({ ...process.env, RAGOPS_DATA_DIR: config.dataDir, REDIS_URL: config.redis.url, RAGOPS_REDIS_PREFIX: config.redis.prefix });
    const listed = await cli("failures", "--json");
    expect(listed.status, listed.err).toBe(0);
    expect(JSON.parse(listed.out)).toEqual([entry]);

    // And through GET /v1/failures.
    const server = await startServer(h.runtime);
    try {
      const response = await fetch(`${server.url}/v1/failures?kind=ingest`);
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ failures: [entry] });
      expect((await fetch(`${server.url}/v1/failures?kind=nope`)).status).toBe(400);
    } finally {
      await server.close(500);
    }
  }, 60_000);

  it("is skipped by the next refresh while its bytes are the same, even touched", async () => {
    expect(await refresh()).toMatchObject({ scanned: 2, unchanged: 1, quarantined: 1, changed: 0, added: 0, failed: 0, details: { quarantined: ["broken.pdf"] } });
    const later = new Date(Date.now() + 60_000);
    const { utimesSync } = await import("node:fs");
    utimesSync(join(dir, "broken.pdf"), later, later);
    expect(await refresh()).toMatchObject({ quarantined: 1, changed: 0, failed: 0 });
    expect((await listFailures(h.runtime.store))[0]?.attempts).toBe(1);
  });

  it("is ingested again once its bytes change, and its attempts add up", async () => {
    copyFileSync(join("test", "fixtures", "random.pdf"), join(dir, "broken.pdf"));
    expect(await refresh()).toMatchObject({ changed: 1, failed: 1, quarantined: 0 });
    const [entry] = await listFailures(h.runtime.store);
    expect(entry).toMatchObject({ id: "ingest:broken.pdf", attempts: 2, quarantined: true });
    expect((entry?.firstSeen ?? "") < (entry?.lastSeen ?? "")).toBe(true);
  });

  it("POST /v1/failures/retry (as `failures retry`) queues it again, and only it; a success clears the ledger", async () => {
    const server = await startServer(h.runtime);
    const retry = (body: unknown) => fetch(`${server.url}/v1/failures/retry`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
    let outcome: { id: string; jobId?: string } | undefined;
    try {
      const wrong = await retry({ all: true, ids: ["x"] });
      expect(wrong.status).toBe(400);
      expect(((await wrong.json()) as { error: { message: string } }).error.message).toMatch(/ids|all/);
      const response = await retry({ ids: ["ingest:broken.pdf"] });
      expect(response.status).toBe(200);
      [outcome] = ((await response.json()) as { outcomes: Array<{ id: string; jobId?: string }> }).outcomes;
    } finally {
      await server.close(500);
    }
    expect(outcome).toMatchObject({ id: "ingest:broken.pdf", jobId: expect.stringMatching(/^ingest-broken\.pdf-v3-/) as string });
    const ended = await waitForJobs(h.events, (id) => h.runtime.queue.getJob(id), [outcome?.jobId as string]);
    expect(ended.get(outcome?.jobId as string)?.state).toBe("failed"); // the same bytes: it fails again
    expect((await listFailures(h.runtime.store))[0]).toMatchObject({ attempts: 3, retryJobId: outcome?.jobId });

    writeFileSync(join(dir, "broken.pdf"), "not a PDF any more, just text");
    copyFileSync(join(dir, "broken.pdf"), join(dir, "broken.txt"));
    rmSync(join(dir, "broken.pdf"));
    await refresh(); // broken.pdf vanished: deleted
    expect(await listFailures(h.runtime.store)).toEqual([]);
  });
  it("lets a content token retry ingests and deletes but not index work, which needs an operator", async () => {
    const content = newToken();
    const operator = newToken();
    const runtime = await openRuntime({ ...h.runtime.config, auth: { ...h.runtime.config.auth, tokens: { editor: { hash: content.hash, roles: ["content"] }, ops: { hash: operator.hash, roles: ["operator"] } } } });
    const server = await startServer(runtime);
    try {
      await recordFailureEntry(runtime.store, { kind: "build", subject: "v9", stage: "building", reason: "the embedder was unreachable", class: "transient", attempts: 1 });
      const retry = (token: string) => fetch(`${server.url}/v1/failures/retry`, { method: "POST", headers: { "content-type": "application/json", authorization: `Bearer ${token}` }, body: JSON.stringify({ ids: ["build:v9"] }) });
      const asContent = await retry(content.token);
      expect(asContent.status).toBe(200);
      expect(await asContent.json()).toEqual({ outcomes: [{ id: "build:v9", skipped: "retrying a failed build needs the operator role (this token has content)" }] });
      const asOperator = (await (await retry(operator.token)).json()) as { outcomes: Array<{ id: string; skipped?: string }> };
      // An operator gets past the role check; a build is not retried in place, and the message says what to do instead.
      expect(asOperator.outcomes[0]?.skipped).not.toMatch(/operator role/);
      await clearFailure(runtime.store, "build", "v9");
    } finally {
      await server.close(500);
      await runtime.close();
    }
  });

  it("an identical re-upload moves the manifest to the new version, so a build does not parse the document again", async () => {
    const text = "# Same\n\nThe same bytes twice.\n";
    await put(h, "same", text);
    const second = await put(h, "same", text);
    expect(second.outcome?.result).toMatchObject({ outcome: "unchanged", version: 2 });
    expect((await readManifest(h.runtime.store, profileKey(h.runtime.config), "same"))?.version).toBe(2);
    expect(await h.runtime.store.head(second.key)).toBeUndefined(); // the duplicate upload is not kept
  });

  it("the upload of a version that failed is deleted once a newer version replaces it", async () => {
    const bad = await put(h, "flaky", Buffer.from("%PDF-1.4 truncated"), "flaky.pdf", "application/pdf");
    expect(bad.outcome?.state).toBe("failed");
    expect(await h.runtime.store.head(bad.key)).toBeDefined(); // kept for `failures retry`
    const good = await put(h, "flaky", "# Flaky\n\nFixed now.\n");
    expect(good.outcome?.state).toBe("completed");
    expect(await h.runtime.store.head(bad.key)).toBeUndefined();
    expect(await h.runtime.store.head(good.key)).toBeDefined();
  });
});

describe("storage failures", () => {
  let h: Harness | undefined;
  afterEach(async () => {
    await h?.stop();
    h = undefined;
  });

  it("a store whose writes fail for 1.5 s, then recover, fails no job: retries back off past the outage", async () => {
    let outageUntil = 0;
    const failing = (store: ObjectStore): ObjectStore => ({
      ...store,
      put: async (key, body, options) => {
        // The outage starts at the job's first manifest write, in the middle of its work.
        if (key.startsWith("manifests/") && outageUntil === 0) outageUntil = Date.now() + 1_500;
        if (Date.now() < outageUntil) throw new UnavailableError(`the object store (a local directory) could not write "${key}": the file system is read-only (EROFS)`);
        return store.put(key, body, options);
      },
    });
    h = await harness({ queue: { attempts: 8, backoffMs: 200, backoffMaxMs: 1_000 } }, failing);
    const { outcome } = await put(h, "survivor", "# Survivor\n\nThe dock survives a storage outage.\n");
    expect(outageUntil).toBeGreaterThan(0);
    expect(outcome?.state).toBe("completed");
    expect((await getDocument({ store: h.runtime.store }, "survivor")).status).toBe("indexed");
    expect(await listFailures(h.runtime.store)).toEqual([]);
  }, 15_000);
});
