import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConflictError, InvalidRequestError } from "../../core/errors.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";
import { fenceRetired, readAlias, swapLive } from "../../indexer/lifecycle/alias.js";
import { writeJson } from "../../core/json-records.js";
import { cannotServe, createVersion, effectiveState, getVersion, listVersions, moveVersion, versionIndex, versionKey, versionFusion, versionRetrieval } from "../../indexer/lifecycle/versions.js";

const freshStore = () => createLocalDirStore({ root: mkdtempSync(join(tmpdir(), "ragops-versions-")) });

describe("index version registry", () => {
  it("creates a version that pins its config, with defaults filled in", async () => {
    const store = freshStore();
    const created = await createVersion(store, { version: "v2", config: { embedder: { dimensions: 256 }, chunking: { sizeTokens: 768 } }, actor: "ops", maxTopK: 100, defaultIndexProvider: "lancedb" });
    expect(created).toMatchObject({ version: "v2", state: "building", createdBy: "ops", config: { embedder: { provider: "offline", dimensions: 256 }, chunking: { sizeTokens: 768, overlapRatio: 0.15 }, defaultTopK: 5 } });
    expect(await getVersion(store, "v2")).toEqual(created);
    await expect(createVersion(store, { version: "v2", config: {}, actor: "ops", maxTopK: 100, defaultIndexProvider: "lancedb" })).rejects.toThrow(/already exists/);
  });

  it("pins the index provider a version was created with: the one it names, else the configured default", async () => {
    const store = freshStore();
    const named = await createVersion(store, { version: "named", config: { index: { provider: "lancedb" } }, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 });
    expect(named.config.index).toEqual({ provider: "lancedb" });
    const defaulted = await createVersion(store, { version: "defaulted", config: {}, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 });
    expect(defaulted.config.index).toEqual({ provider: "lancedb" });
    expect(versionIndex(await getVersion(store, "defaulted"))).toEqual({ provider: "lancedb" });
    await expect(createVersion(store, { version: "unknown", config: { index: { provider: "elsewhere" } }, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 })).rejects.toThrow();
  });

  it("reads a version record written before versions pinned a provider as a LanceDB one", async () => {
    const store = freshStore();
    const created = await createVersion(store, { version: "old", config: {}, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 });
    const { index: _dropped, ...before } = created.config;
    await writeJson(store, versionKey("old"), { ...created, config: before });
    expect((await getVersion(store, "old")).config.index).toBeUndefined();
    expect(versionIndex(await getVersion(store, "old"))).toEqual({ provider: "lancedb" });
  });

  it("pins hybrid retrieval by default, fused by relative score, with the fusion and BM25 settings, and a BM25 avgdl from the chunk size", async () => {
    const store = freshStore();
    const created = await createVersion(store, { version: "v2", config: { chunking: { sizeTokens: 300 } }, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 });
    const pinned = { mode: "hybrid", fusion: "relative-score", rrf: { k: 60, alpha: 0.5, candidates: 100 }, bm25: { k1: 1.2, b: 0.75, avgdl: 60 } };
    expect(created.config.retrieval).toEqual(pinned);
    expect(versionRetrieval(await getVersion(store, "v2"))).toEqual(pinned);
    const text = await createVersion(store, { version: "v3", config: { retrieval: { mode: "text", bm25: { avgdl: 120, b: 0.5 } } }, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 });
    expect(text.config.retrieval).toEqual({ mode: "text", fusion: "relative-score", rrf: { k: 60, alpha: 0.5, candidates: 100 }, bm25: { k1: 1.2, b: 0.5, avgdl: 120 } });
    const ranks = await createVersion(store, { version: "v5", config: { retrieval: { fusion: "rrf" } }, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 });
    expect(versionFusion(versionRetrieval(ranks))).toEqual({ method: "rrf", k: 60, alpha: 0.5, candidates: 100 });
    await expect(createVersion(store, { version: "v4", config: { retrieval: { fusion: "borda" } }, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 })).rejects.toThrow();
    await expect(createVersion(store, { version: "v4", config: { retrieval: { mode: "keywords" } }, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 })).rejects.toThrow();
    await expect(createVersion(store, { version: "v4", config: { retrieval: { rrf: { alpha: 1.5 } } }, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 })).rejects.toThrow();
  });

  it("reads a version record written before versions pinned a retrieval mode as dense", async () => {
    const store = freshStore();
    const created = await createVersion(store, { version: "old", config: {}, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 });
    const { retrieval: _dropped, ...before } = created.config;
    await writeJson(store, versionKey("old"), { ...created, config: before });
    expect((await getVersion(store, "old")).config.retrieval).toBeUndefined();
    expect(versionRetrieval(await getVersion(store, "old")).mode).toBe("dense");
  });

  it("reads a hybrid version record written before versions pinned a fusion method as fused by rrf, as it was built and evaluated", async () => {
    const store = freshStore();
    const created = await createVersion(store, { version: "old", config: {}, actor: "ops", defaultIndexProvider: "lancedb", maxTopK: 100 });
    const { fusion: _dropped, ...retrieval } = created.config.retrieval!;
    await writeJson(store, versionKey("old"), { ...created, config: { ...created.config, retrieval } });
    expect(versionFusion(versionRetrieval(await getVersion(store, "old")))).toEqual({ method: "rrf", k: 60, alpha: 0.5, candidates: 100 });
  });

  it("rejects a config with an unknown or out-of-range setting", async () => {
    const store = freshStore();
    await expect(createVersion(store, { version: "v3", config: { chunking: { sizeTokens: 99 } }, actor: "ops", maxTopK: 100, defaultIndexProvider: "lancedb" })).rejects.toThrow();
    await expect(createVersion(store, { version: "v3", config: { colour: "blue" }, actor: "ops", maxTopK: 100, defaultIndexProvider: "lancedb" })).rejects.toThrow();
  });

  it("refuses a defaultTopK above the service's index.maxTopK, which every search without k would break on", async () => {
    const store = freshStore();
    const tooMany = createVersion(store, { version: "v4", config: { defaultTopK: 50 }, actor: "ops", maxTopK: 20, defaultIndexProvider: "lancedb" });
    await expect(tooMany).rejects.toBeInstanceOf(InvalidRequestError);
    await expect(tooMany).rejects.toThrow(/defaultTopK.*index\.maxTopK \(20\)/);
    await expect(getVersion(store, "v4")).rejects.toThrow(/not found/);
    expect(await createVersion(store, { version: "v4", config: { defaultTopK: 20 }, actor: "ops", maxTopK: 20, defaultIndexProvider: "lancedb" })).toMatchObject({ config: { defaultTopK: 20 } });
  });

  it("moves only through the state machine and says why a move is refused", async () => {
    const store = freshStore();
    await createVersion(store, { version: "v1", config: {}, actor: "ops", maxTopK: 100, defaultIndexProvider: "lancedb" });
    await expect(moveVersion(store, "v1", "evaluation-passed")).rejects.toBeInstanceOf(ConflictError);
    const ready = await moveVersion(store, "v1", "build-succeeded", { builtAt: "2026-11-24T00:00:00Z", counts: { documents: 3, chunks: 9, datapoints: 8 } });
    expect(ready).toMatchObject({ state: "ready", counts: { datapoints: 8 } });
    const failed = await createVersion(store, { version: "v9", config: {}, actor: "ops", maxTopK: 100, defaultIndexProvider: "lancedb" }).then(() => moveVersion(store, "v9", "build-failed", { error: "embedder unreachable" }));
    expect(failed).toMatchObject({ state: "failed", error: "embedder unreachable" });
    expect((await listVersions(store)).map((v) => v.version)).toEqual(["v1", "v9"]);
  });

  it("takes live and previous from the alias", async () => {
    const store = freshStore();
    const v1 = await createVersion(store, { version: "v1", config: {}, actor: "ops", maxTopK: 100, defaultIndexProvider: "lancedb" });
    await swapLive(store, { to: "v1", expectedVersion: null, actor: "ops" });
    expect(effectiveState(v1, (await readAlias(store)).alias)).toBe("live");
  });

  it("shows a version fenced off by an interrupted retire as retired, and says it cannot serve", async () => {
    const store = freshStore();
    const r1 = await createVersion(store, { version: "r1", config: {}, actor: "ops", maxTopK: 100, defaultIndexProvider: "lancedb" }).then(() => moveVersion(store, "r1", "build-succeeded"));
    expect(cannotServe(r1, (await readAlias(store)).alias)).toBeUndefined();
    await fenceRetired(store, { version: "r1", actor: "ops" });
    const { alias } = await readAlias(store);
    expect(effectiveState(r1, alias)).toBe("retired");
    expect(cannotServe(r1, alias)).toMatch(/^retired/);
  });

  it("says why a failed or building version cannot serve", async () => {
    const store = freshStore();
    const { alias } = await readAlias(store);
    const building = await createVersion(store, { version: "b1", config: {}, actor: "ops", maxTopK: 100, defaultIndexProvider: "lancedb" });
    expect(cannotServe(building, alias)).toMatch(/^building/);
    const failed = await moveVersion(store, "b1", "build-failed", { error: "embedder unreachable" });
    expect(cannotServe(failed, alias)).toMatch(/^failed .*embedder unreachable/);
  });
});
