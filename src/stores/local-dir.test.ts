import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { objectStoreConformance } from "../../test/conformance/object-store.js";
import { createLocalDirStore } from "./local-dir.js";

objectStoreConformance("local-dir", async () => createLocalDirStore({ root: mkdtempSync(join(tmpdir(), "ragops-store-")) }));

describe("local-dir store", () => {
  it("writes nothing outside its root for a traversal key", async () => {
    const parent = mkdtempSync(join(tmpdir(), "ragops-store-parent-"));
    const store = createLocalDirStore({ root: join(parent, "objects") });
    await expect(store.put("../escaped.txt", "x")).rejects.toThrow();
    expect(readdirSync(parent)).toEqual([]);
  });

  it("keeps no temp files after a failed write", async () => {
    const root = mkdtempSync(join(tmpdir(), "ragops-store-"));
    const store = createLocalDirStore({ root });
    await store.put("k", "v");
    await expect(store.put("k", "w", { ifGenerationMatch: 0 })).rejects.toThrow();
    expect(readdirSync(join(root, ".tmp"))).toEqual([]);
  });
});
