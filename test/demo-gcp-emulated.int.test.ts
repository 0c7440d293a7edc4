import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, inject, it } from "vitest";
import { runEmulatedGcpDemo } from "../src/cli/demo-gcp-emulated.js";

/**
 * `npm run demo:gcp-emulated`, shortened: four Markdown documents instead of
 * the 29 of the sample corpus, no worse green v3 and no report page. The gcp
 * profile against the in-process GCS and Vertex emulators: ingest into the
 * GCS store with the Vertex embedder, a hybrid green on Vertex beside live
 * LanceDB v1, both evaluated, the swap the gate allows, a batch rebuild of
 * the green from GCS files, the rollback.
 */
const dataDir = mkdtempSync(join(tmpdir(), "ragops-demo-gcp-"));
afterAll(() => rmSync(dataDir, { recursive: true, force: true }));

describe("the emulated gcp demo", () => {
  it("runs the demo on the gcp profile against the emulators, a Vertex green beside live LanceDB v1", async () => {
    const outcome = await runEmulatedGcpDemo({ dataDir, short: true, redis: { url: inject("redisUrl"), prefix: `demo-gcp-${randomUUID().slice(0, 8)}` }, files: (names) => names.filter((n) => n.endsWith(".md")).slice(0, 4) });
    expect(outcome).toMatchObject({ indexed: 4, failed: 0, queries: 4 });
    expect(outcome.rebuilt?.records).toBeGreaterThan(4);
    expect(outcome.rebuilt?.dataFiles).toBe(1);
    // Swap and rollback follow the gate's verdict on four documents' worth of golden questions.
    expect(outcome.swapped).toBe(outcome.v2Passed);
    expect(outcome.rolledBack).toBe(outcome.swapped);
  }, 60_000);
});
