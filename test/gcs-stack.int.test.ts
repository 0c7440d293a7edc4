import { existsSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startGcsEmulator, type GcsEmulator } from "../src/dev/gcs-emulator.js";
import { putDocument, searchApi, startStack, waitForJob, type Stack } from "./support/stack.js";

const BUCKET = "acme-rag";
const PREFIX = "ragops/test";

const post = async (url: string, path: string, body: unknown, actor = "alice") => {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-ragops-actor": actor }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** Control plane and worker with objectStore.provider "gcs": every object goes through the GCS client to the emulator. */
describe("serve and worker on the GCS object store", () => {
  let emulator: GcsEmulator;
  let stack: Stack;

  beforeAll(async () => {
    emulator = await startGcsEmulator({ buckets: [BUCKET] });
    stack = await startStack({ objectStore: { provider: "gcs" }, gcp: { project: "acme-test", bucket: BUCKET, objectPrefix: PREFIX, storageApiEndpoint: emulator.url } });
  });

  afterAll(async () => {
    await stack?.stop();
    await emulator?.close();
  });

  it("keeps uploads, document records, manifests and the alias in the bucket under the prefix, none on local disk", async () => {
    const job = await putDocument(stack.url, "battery", "# Battery\n\nReplace the BP-48 battery pack when a full charge lasts less than six hours of picking.\n");
    expect(job.state, job.failedReason).toBe("completed");
    expect((await searchApi(stack.url, { query: "BP-48 battery pack", k: 1 })).body.results[0]?.documentId).toBe("battery");
    expect(emulator.generationOf(BUCKET, `${PREFIX}/documents/battery.json`)).toMatch(/^\d+$/);
    expect(emulator.generationOf(BUCKET, `${PREFIX}/aliases/live.json`)).toMatch(/^\d+$/);
    expect(emulator.requests.filter((r) => r.kind === "upload" && r.name?.startsWith(`${PREFIX}/manifests/`))).not.toHaveLength(0);
    expect(emulator.requests.every((r) => r.bucket === BUCKET && (r.name === undefined || r.name.startsWith(`${PREFIX}/`)))).toBe(true);
    expect(existsSync(join(stack.config.dataDir, "objects"))).toBe(false);
  });

  it("swaps the live alias by compare-and-swap on the object's generation: one of many racing swaps wins", async () => {
    const created = await post(stack.url, "/v1/indexes", { version: "v2", config: { chunking: { sizeTokens: 300 } } });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect((await waitForJob(stack.url, String(created.body.buildJobId))).state).toBe("completed");
    const before = emulator.generationOf(BUCKET, `${PREFIX}/aliases/live.json`);
    const results = await Promise.all(Array.from({ length: 6 }, (_, i) => post(stack.url, "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1", force: true, reason: "race" }, `op${i}`)));
    expect(results.map((r) => r.status).sort()).toEqual([200, 409, 409, 409, 409, 409]);
    expect(BigInt(emulator.generationOf(BUCKET, `${PREFIX}/aliases/live.json`) as string)).toBeGreaterThan(BigInt(before as string));
    expect((await searchApi(stack.url, { query: "BP-48 battery pack", k: 1 })).body).toMatchObject({ index: "v2" });
  });
});
