import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Redis } from "ioredis";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../config/load.js";
import { createLogger } from "../../core/logger.js";
import { embedText } from "../../indexer/embedders/offline-hashing.js";
import { createVersionCatalog } from "../../indexer/lifecycle/catalog.js";
import { createVersion } from "../../indexer/lifecycle/versions.js";
import { startVertexEmulator, type VertexEmulator } from "../../src/dev/vertex-emulator/index.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";

/** An index version whose config picks the Vertex embedder gets it from the catalog, wired to the gcp settings, beside versions on the offline one. */
const redis = new Redis(inject("redisUrl"));
let emulator: VertexEmulator;
let dataDir: string;

beforeAll(async () => {
  emulator = await startVertexEmulator();
  dataDir = mkdtempSync(join(tmpdir(), "ragops-vertex-catalog-"));
});
afterAll(async () => {
  await emulator.stop();
  await redis.quit();
  rmSync(dataDir, { recursive: true, force: true });
});

describe("the Vertex embedder in the version catalog", () => {
  it("embeds a Vertex version's texts through the configured endpoint and project, and keeps the offline default for the others", async () => {
    const config = loadConfig({
      env: {},
      overrides: { dataDir, log: { level: "silent" }, redis: { url: inject("redisUrl"), prefix: `vx${Math.random().toString(16).slice(2, 8)}` }, gcp: { project: "acme-rag", location: "europe-west4", vertexApiEndpoint: emulator.endpoint } },
    });
    const store = createLocalDirStore({ root: join(dataDir, "objects") });
    const catalog = createVersionCatalog({ config, store, redis, logger: createLogger(config) });
    try {
      const green = await createVersion(store, { version: "green", config: { embedder: { provider: "vertex", dimensions: 128, vertex: { model: "gemini-embedding-001" } } }, actor: "test", maxTopK: 100, defaultIndexProvider: "lancedb" });
      await createVersion(store, { version: "blue", config: {}, actor: "test", maxTopK: 100, defaultIndexProvider: "lancedb" });
      expect(green.embedder).toEqual({ provider: "vertex", model: "gemini-embedding-001", version: "001", dimensions: 128 });

      const before = emulator.prediction.requests.length;
      const [vector] = await (await catalog.open("green")).embedder.embed(["dock clearance"], { purpose: "query" });
      expect(Array.from(vector as Float32Array)).toEqual(Array.from(embedText("dock clearance", 128)));
      expect(emulator.prediction.requests.slice(before).map((r) => r.endpoint)).toEqual(["projects/acme-rag/locations/europe-west4/publishers/google/models/gemini-embedding-001"]);

      expect((await catalog.open("blue")).embedder.identity.provider).toBe("offline");
      expect(emulator.prediction.requests.length - before).toBe(1);
    } finally {
      await catalog.close();
    }
  });
});
