import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { embedText } from "../embedders/offline-hashing.js";
import { createLanceDbIndex, toPredicate } from "./lancedb.js";
import type { Datapoint } from "./vector-index.js";

const point = (id: string, text: string, documentId: string, tags: string[] = [], contentType = "text/markdown"): Datapoint => ({
  id,
  vector: embedText(text, 64),
  restricts: { documentIds: [documentId], tags, contentTypes: [contentType] },
  payload: { text },
});

async function freshIndex(version = "v1", dimensions = 64) {
  return createLanceDbIndex({ dir: mkdtempSync(join(tmpdir(), "ragops-lance-")), version, dimensions });
}

describe("LanceDB vector index", () => {
  it("returns the nearest datapoint first, with its payload and restricts", async () => {
    const index = await freshIndex();
    await index.upsert([point("a", "battery pack replacement steps", "d1", ["hardware"]), point("b", "travel expenses and hotel limits", "d2", ["policy"])]);
    const [first] = await index.query(embedText("replace the battery pack", 64), { k: 2 });
    expect(first).toMatchObject({ id: "a", payload: { text: "battery pack replacement steps" }, restricts: { documentIds: ["d1"], tags: ["hardware"] } });
    expect(first!.score).toBeGreaterThan(0);
    await index.close();
  });

  it("upserts by id without duplicating and removes by id", async () => {
    const index = await freshIndex();
    await index.upsert([point("a", "one", "d1"), point("b", "two", "d1")]);
    await index.upsert([point("a", "one, edited", "d1")]);
    expect(await index.count()).toBe(2);
    const [hit] = await index.query(embedText("one edited", 64), { k: 1 });
    expect(hit?.payload.text).toBe("one, edited");
    await index.remove(["a"]);
    expect(await index.count()).toBe(1);
    await index.close();
  });

  it("filters by document id, any of several tags, and content type", async () => {
    const index = await freshIndex();
    await index.upsert([
      point("a", "dock setup", "d1", ["hardware", "product"]),
      point("b", "dock setup guide", "d2", ["product"], "text/plain"),
      point("c", "dock policy", "d3", ["policy"]),
    ]);
    const ids = async (filter: Parameters<typeof index.query>[1]["filter"]) => (await index.query(embedText("dock", 64), { k: 10, filter })).map((n) => n.id).sort();
    expect(await ids({ documentIds: ["d2", "d3"] })).toEqual(["b", "c"]);
    expect(await ids({ tags: ["hardware", "policy"] })).toEqual(["a", "c"]);
    expect(await ids({ contentTypes: ["text/plain"] })).toEqual(["b"]);
    expect(await ids({ tags: ["product"], contentTypes: ["text/markdown"] })).toEqual(["a"]);
    expect(await index.removeWhere({ documentIds: ["d1"] })).toBe(1);
    expect(await index.count()).toBe(2);
    await index.close();
  });

  it("quotes filter values so a value cannot change the predicate", () => {
    expect(toPredicate({ documentIds: ["x') OR ('1'='1"] })).toBe("array_has_any(document_ids, ['x'') OR (''1''=''1'])");
  });

  it("fetches stored restricts and payload, and updates them without touching the vector", async () => {
    const index = await freshIndex();
    await index.upsert([point("a", "shared dock text", "d1", ["hardware"])]);
    await index.updateMetadata([{ id: "a", restricts: { documentIds: ["d1", "d2"], tags: ["hardware", "policy"], contentTypes: ["text/markdown"] }, payload: { text: "shared dock text", documentId: "d1" } }]);
    const stored = await index.fetch(["a", "missing"]);
    expect([...stored.keys()]).toEqual(["a"]);
    expect(stored.get("a")?.restricts).toEqual({ documentIds: ["d1", "d2"], tags: ["hardware", "policy"], contentTypes: ["text/markdown"] });
    const [hit] = await index.query(embedText("shared dock text", 64), { k: 1, filter: { documentIds: ["d2"] } });
    expect(hit?.id).toBe("a");
    expect(hit!.score).toBeGreaterThan(0.99);
    expect(await index.listIds()).toEqual(["a"]);
    await index.close();
  });

  it("refuses to reuse a version whose vectors have other dimensions", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ragops-lance-"));
    const index = await createLanceDbIndex({ dir, version: "v1", dimensions: 64 });
    await index.close();
    await expect(createLanceDbIndex({ dir, version: "v1", dimensions: 128 })).rejects.toThrow(/64-dimensional.*128/);
  });
});
