import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { vectorIndexConformance } from "../../test/conformance/vector-index.js";
import { createLanceDbIndex, toPredicate } from "./lancedb.js";
import { DimensionMismatchError } from "./vector-index.js";

const freshDir = () => mkdtempSync(join(tmpdir(), "ragops-lance-"));

vectorIndexConformance("LanceDB", (dimensions) => createLanceDbIndex({ dir: freshDir(), version: "v1", dimensions }));

describe("LanceDB vector index", () => {
  it("quotes filter values so a value cannot change the predicate", () => {
    expect(toPredicate({ restricts: { documentIds: { allow: ["x') OR ('1'='1"] } } })).toBe("array_has_any(document_ids, ['x'') OR (''1''=''1'])");
  });

  it("refuses to reopen a version whose vectors have other dimensions", async () => {
    const dir = freshDir();
    const index = await createLanceDbIndex({ dir, version: "v1", dimensions: 64 });
    await index.close();
    const reopened = createLanceDbIndex({ dir, version: "v1", dimensions: 128 });
    await expect(reopened).rejects.toBeInstanceOf(DimensionMismatchError);
    await expect(reopened).rejects.toThrow(/64-dimensional.*128/);
  });

  it("opens a table an older release wrote with payloads: the payload goes, its datapoints stay, dates start unknown", async () => {
    const dir = freshDir();
    const lancedb = await import("@lancedb/lancedb");
    const db = await lancedb.connect(dir);
    await db.createTable("chunks_v1", [{ id: "old", vector: [1, 0], document_ids: ["d1"], tags: ["t"], content_types: ["text/plain"], payload: JSON.stringify({ text: "old text" }) }]);
    db.close();
    const index = await createLanceDbIndex({ dir, version: "v1", dimensions: 2 });
    expect((await index.fetch(["old"])).get("old")).toEqual({ restricts: { documentIds: ["d1"], tags: ["t"], contentTypes: ["text/plain"] }, numericRestricts: {} });
    await index.upsert([{ id: "new", vector: [0, 1], restricts: { documentIds: ["d2"], tags: [], contentTypes: [] }, numericRestricts: { date: 9 } }]);
    expect((await index.query([1, 0], { k: 5, filter: { numeric: [{ namespace: "date", op: "GREATER", value: 1 }] } })).map((n) => n.id)).toEqual(["new"]);
    expect(await index.count()).toBe(2);
    await index.close();
  });

  it("lists every datapoint id, for tests and repairs outside the port", async () => {
    const index = await createLanceDbIndex({ dir: freshDir(), version: "v1", dimensions: 2 });
    await index.upsert([
      { id: "b", vector: [1, 0], restricts: { documentIds: ["d"], tags: [], contentTypes: [] }, numericRestricts: {} },
      { id: "a", vector: [0, 1], restricts: { documentIds: ["d"], tags: [], contentTypes: [] }, numericRestricts: {} },
    ]);
    expect((await index.listIds()).sort()).toEqual(["a", "b"]);
    await index.close();
  });
});
