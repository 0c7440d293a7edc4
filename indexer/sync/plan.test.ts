import { describe, expect, it } from "vitest";
import { diffChunks, primaryDocument } from "./diff.js";
import { planRefresh } from "./plan.js";

describe("planRefresh", () => {
  const file = (documentId: string, size: number, mtimeMs: number) => ({ uri: `file:///d/${documentId}`, documentId, size, mtimeMs });
  const known = (documentId: string, size: number, mtimeMs: number) => ({ documentId, source: `file:///d/${documentId}`, size, mtimeMs, sha256: "x" });

  it("skips files whose size and modification time match without reading them, and sorts the rest", () => {
    const plan = planRefresh([file("a", 10, 1), file("b", 10, 2), file("c", 11, 1), file("new", 5, 1)], [known("a", 10, 1), known("b", 10, 1), known("c", 10, 1), known("gone", 3, 1)]);
    expect(plan.unchanged.map((f) => f.documentId)).toEqual(["a"]);
    expect(plan.suspect.map((f) => f.documentId)).toEqual(["b", "c"]);
    expect(plan.added.map((f) => f.documentId)).toEqual(["new"]);
    expect(plan.deleted).toEqual(["gone"]);
  });

  it("takes an object whose generation matches as unchanged, with no modification time to compare", () => {
    const plan = planRefresh([{ uri: "gs://b/a", documentId: "a", size: 10, generation: "7" }], [{ documentId: "a", source: "gs://b/a", size: 10, generation: "7" }]);
    expect(plan.unchanged.map((f) => f.documentId)).toEqual(["a"]);
    expect(plan.suspect).toEqual([]);
  });

  it("trusts a generation over a modification time when the source has one", () => {
    // Same size and mtime, other generation: the object was rewritten, so it is read.
    const plan = planRefresh([{ uri: "gs://b/a", documentId: "a", size: 10, mtimeMs: 5, generation: "7" }], [{ documentId: "a", source: "gs://b/a", size: 10, mtimeMs: 5, generation: "6" }]);
    expect(plan.suspect.map((f) => f.documentId)).toEqual(["a"]);
    expect(plan.unchanged).toEqual([]);
  });
});

describe("diffChunks", () => {
  it("splits hashes into added, unchanged and removed", () => {
    expect(diffChunks(new Set(["a", "b", "c"]), ["b", "d", "a"])).toEqual({ added: ["d"], unchanged: ["b", "a"], removed: ["c"] });
  });

  it("names the smallest document id primary, whatever the order", () => {
    expect(primaryDocument(["beta", "alpha", "gamma"])).toBe("alpha");
    expect(primaryDocument([])).toBeUndefined();
  });
});
