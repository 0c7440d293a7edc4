import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { Storage, type Bucket } from "@google-cloud/storage";
import { startGcsEmulator, type GcsEmulator } from "../src/dev/gcs-emulator.js";
import { runRefresh, type RefreshSummary } from "../src/documents/refresh.js";
import { createIngestQueueEvents } from "../src/queues/ingest-queue.js";
import { openSource } from "../src/sources/index.js";
import { cliRunner } from "./support/cli.js";
import { indexContents, searchApi, startStack, type Stack } from "./support/stack.js";

const SOURCE_BUCKET = "acme-docs";
const STORE_BUCKET = "acme-rag";
const corpus = (name: string) => readFileSync(join("examples", "corpus", name));

/** ragops refresh --source gs://bucket/prefix, against the emulator; the documents are objects another system writes. */
describe("refresh from a GCS prefix", () => {
  let emulator: GcsEmulator;
  let stack: Stack;
  let bucket: Bucket;
  const write = (name: string, body: string | Buffer) => bucket.file(name).save(body, { resumable: false });

  const refresh = async (options: { dryRun?: boolean } = {}): Promise<{ summary: RefreshSummary; downloads: number }> => {
    const source = await openSource(`gs://${SOURCE_BUCKET}/handbook/`, stack.config);
    const events = await createIngestQueueEvents(stack.config);
    const before = emulator.count("download", SOURCE_BUCKET);
    try {
      const summary = await runRefresh(stack.runtime, source, { events, ...options });
      return { summary, downloads: emulator.count("download", SOURCE_BUCKET) - before };
    } finally {
      await events.close();
    }
  };

  beforeAll(async () => {
    emulator = await startGcsEmulator();
    bucket = new Storage({ apiEndpoint: emulator.url, projectId: "acme-test" }).bucket(SOURCE_BUCKET);
    for (const name of ["charging-dock-setup.md", "error-code-reference.md", "travel-and-expenses-policy.txt"]) await write(`handbook/${name}`, corpus(name));
    await write("handbook/safety/safety-system.md", corpus("safety-system.md"));
    await write("handbook/.drafts/unreleased.md", "# Unreleased\n\nNot for the index.\n");
    await write("handbook/diagram.png", Buffer.from([0x89, 0x50, 0x4e, 0x47]));
    await write("handbook/", ""); // the folder placeholder the console makes
    await write("handbook-old/elsewhere.md", "# Elsewhere\n\nNot under the prefix.\n");
    stack = await startStack({ objectStore: { provider: "gcs" }, gcp: { project: "acme-test", bucket: STORE_BUCKET, storageApiEndpoint: emulator.url } });
  });

  afterAll(async () => {
    await stack?.stop();
    await emulator?.close();
  });

  it("ingests every supported object under the prefix once, skipping dot folders and other files", async () => {
    const { summary, downloads } = await refresh();
    expect(summary).toMatchObject({ source: `gs://${SOURCE_BUCKET}/handbook`, scanned: 4, added: 4, changed: 0, deleted: 0, failed: 0 });
    expect(summary.details.added.sort()).toEqual(["charging-dock-setup.md", "error-code-reference.md", "safety__safety-system.md", "travel-and-expenses-policy.txt"]);
    expect(downloads).toBe(4);
    expect((await searchApi(stack.url, { query: "E402 wheel encoder fault", k: 1 })).body.results[0]?.documentId).toBe("error-code-reference.md");
  });

  it("downloads nothing the second time: every generation is the one indexed", async () => {
    const { summary, downloads } = await refresh();
    expect(summary).toMatchObject({ scanned: 4, unchanged: 4, changed: 0, added: 0, deleted: 0, chunksEmbedded: 0, indexWrites: 0, metadataWrites: 0 });
    expect(downloads).toBe(0);
  });

  it("downloads an object rewritten with the same bytes once, finds it unchanged, and skips it the next time", async () => {
    await write("handbook/travel-and-expenses-policy.txt", corpus("travel-and-expenses-policy.txt"));
    const rewritten = await refresh();
    expect(rewritten.summary).toMatchObject({ unchanged: 4, changed: 0, chunksEmbedded: 0, indexWrites: 0 });
    expect(rewritten.downloads).toBe(1);
    expect((await refresh()).downloads).toBe(0);
  });

  it("re-embeds only what an edit changed, adds a new object and deletes a vanished one, downloading only those", async () => {
    await write("handbook/charging-dock-setup.md", Buffer.concat([corpus("charging-dock-setup.md"), Buffer.from("\n## Dock firmware\n\nThe CD-10 dock firmware updates itself overnight from Flock when the robot is docked.\n")]));
    await bucket.file("handbook/travel-and-expenses-policy.txt").delete();
    await write("handbook/new-note.md", "# Pallet wrap\n\nLoose pallet wrap trailing on the floor is the most common cause of E401 drive overcurrent faults.\n");
    const dry = await refresh({ dryRun: true });
    expect(dry.summary.details).toMatchObject({ changed: ["charging-dock-setup.md"], added: ["new-note.md"], deleted: ["travel-and-expenses-policy.txt"] });
    const { summary, downloads } = await refresh();
    expect(summary).toMatchObject({ changed: 1, added: 1, deleted: 1, failed: 0 });
    expect(summary.chunksEmbedded).toBeLessThanOrEqual(3);
    expect(downloads).toBe(2);
    const texts = [...(await indexContents(stack)).values()];
    expect(texts.some((t) => t.includes("updates itself overnight"))).toBe(true);
    expect(texts.some((t) => t.includes("Hotel"))).toBe(false);
  });

  it("refuses a source that is not a gs:// location it can use", async () => {
    await expect(openSource("gs://Bad_Bucket/x", stack.config)).rejects.toThrow(/gs:\/\/bucket/);
    await expect(openSource(`gs://${SOURCE_BUCKET}/../etc`, stack.config)).rejects.toThrow(/prefix/);
  });
});

describe("ragops refresh --source gs://bucket/prefix", () => {
  let emulator: GcsEmulator;
  beforeAll(async () => {
    emulator = await startGcsEmulator();
  });
  afterAll(async () => {
    await emulator?.close();
  });

  it("refreshes from the bucket with the gcp profile's endpoint, and downloads nothing the second time", async () => {
    await new Storage({ apiEndpoint: emulator.url, projectId: "acme-test" }).bucket(SOURCE_BUCKET).file("docs/customer-support-slas.md").save(corpus("customer-support-slas.md"), { resumable: false });
    const env = { ...process.env, REDIS_URL: inject("redisUrl"), RAGOPS_DATA_DIR: mkdtempSync(join(tmpdir(), "ragops-cli-")), RAGOPS_REDIS_PREFIX: `gcs${process.pid}`, RAGOPS_GCS_ENDPOINT: emulator.url, RAGOPS_LOG_LEVEL: "warn" };
    const run = cliRunner(env);
    const first = await run("refresh", "--source", `gs://${SOURCE_BUCKET}/docs`, "--json");
    expect(first.status, first.err).toBe(0);
    expect(JSON.parse(first.out)).toMatchObject({ source: `gs://${SOURCE_BUCKET}/docs`, added: 1, failed: 0 });
    const downloads = emulator.count("download", SOURCE_BUCKET);
    const second = await run("refresh", "--source", `gs://${SOURCE_BUCKET}/docs`, "--json");
    expect(JSON.parse(second.out)).toMatchObject({ unchanged: 1, chunksEmbedded: 0, indexWrites: 0 });
    expect(emulator.count("download", SOURCE_BUCKET)).toBe(downloads);
  });
});
