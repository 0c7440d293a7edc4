import { createHash } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { InvalidRequestError, NotFoundError } from "../../core/errors.js";
import type { ObjectStore } from "../../core/object-store.js";
import { parseGoldenSet } from "../../indexer/evaluation/golden-set.js";
import { getGoldenSetRecord, listGoldenSets, listGoldenSetVersions, parseGoldenSetRef, putGoldenSet, readGoldenSet, readGoldenSetText } from "../../indexer/evaluation/golden-store.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";

/** Golden-set versions on a real local-dir store (indexer/ may not import the adapter, so the test lives here). */
const roots: string[] = [];
function freshStore(): ObjectStore {
  const root = mkdtempSync(join(tmpdir(), "ragops-golden-"));
  roots.push(root);
  return createLocalDirStore({ root });
}
afterEach(() => {
  for (const root of roots.splice(0)) rmSync(root, { recursive: true, force: true });
});

const set = (...questions: string[]) => parseGoldenSet(questions.map((question) => JSON.stringify({ question, relevantDocuments: ["d1"] })).join("\n"));

describe("golden set store", () => {
  it("stores uploads of one name as versions 1, 2, ... and resolves latest", async () => {
    const store = freshStore();
    const first = await putGoldenSet(store, "demo", set("a"));
    const second = await putGoldenSet(store, "demo", set("a", "b"));
    expect([first.created, first.record.version, second.created, second.record.version]).toEqual([true, 1, true, 2]);
    expect(second.record).toMatchObject({ name: "demo", questions: 2, judgmentLevel: "document", key: "golden-sets/demo/v2.jsonl" });
    expect((await getGoldenSetRecord(store, "demo")).version).toBe(2);
    expect((await readGoldenSet(store, "demo", 1)).set.questions.map((q) => q.question)).toEqual(["a"]);
    expect((await listGoldenSetVersions(store, "demo")).map((r) => r.version)).toEqual([1, 2]);
  });

  it("returns the existing version for an identical re-upload, however it was formatted", async () => {
    const store = freshStore();
    const first = await putGoldenSet(store, "demo", set("a", "b"));
    // The same questions with explicit ids equal to the line-number defaults, and spacing.
    const again = parseGoldenSet(`{"id":"1", "question":"a","relevantDocuments":["d1"]}\n{ "question":"b","relevantDocuments":["d1"],"id":"2"}\n`);
    const second = await putGoldenSet(store, "demo", again);
    expect(second).toEqual({ created: false, record: first.record });
    expect(await listGoldenSetVersions(store, "demo")).toHaveLength(1);
  });

  it("gives concurrent uploads of one name distinct versions, each with its own text", async () => {
    const store = freshStore();
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => putGoldenSet(store, "race", set(`question ${i}`))));
    expect(results.map((r) => r.record.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    for (const [i, result] of results.entries()) {
      expect((await readGoldenSet(store, "race", result.record.version)).set.questions[0]?.question).toBe(`question ${i}`);
    }
    expect(await listGoldenSetVersions(store, "race")).toHaveLength(8);
  });

  it("stores concurrent identical uploads once, and leaves no stray version text", async () => {
    const store = freshStore();
    const results = await Promise.all(Array.from({ length: 6 }, () => putGoldenSet(store, "same", set("a"))));
    expect(new Set(results.map((r) => r.record.version))).toEqual(new Set([1]));
    expect(results.filter((r) => r.created)).toHaveLength(1);
    const keys: string[] = [];
    for await (const meta of store.list("golden-sets/same/")) keys.push(meta.key);
    expect(keys.sort()).toEqual(["golden-sets/same/index.json", "golden-sets/same/v1.jsonl"]);
  });

  it("skips a version whose text a crashed upload left without a record", async () => {
    const store = freshStore();
    await store.put("golden-sets/demo/v1.jsonl", "{}\n", { ifGenerationMatch: 0 });
    const stored = await putGoldenSet(store, "demo", set("a"));
    expect(stored.record.version).toBe(2);
    expect((await listGoldenSetVersions(store, "demo")).map((r) => r.version)).toEqual([2]);
  });

  it("lists every set with its latest version, by name", async () => {
    const store = freshStore();
    await putGoldenSet(store, "zeta", set("a"));
    await putGoldenSet(store, "alpha", set("a"));
    await putGoldenSet(store, "alpha", set("b"));
    const list = await listGoldenSets(store);
    expect(list.map((s) => [s.name, s.versions, s.latest.version])).toEqual([
      ["alpha", 2, 2],
      ["zeta", 1, 1],
    ]);
  });

  it("serves the canonical text, whose sha-256 the record holds", async () => {
    const store = freshStore();
    const { record } = await putGoldenSet(store, "demo", set("a"));
    const { text } = await readGoldenSetText(store, "demo", "latest");
    expect(text).toBe(`${JSON.stringify({ id: "1", question: "a", relevantDocuments: ["d1"] })}\n`);
    expect(record.sha256).toBe(createHash("sha256").update(text).digest("hex"));
  });

  it("says what exists when a set or a version is missing, and refuses bad names", async () => {
    const store = freshStore();
    await expect(getGoldenSetRecord(store, "nope")).rejects.toThrow(NotFoundError);
    await putGoldenSet(store, "demo", set("a"));
    await expect(getGoldenSetRecord(store, "demo", 7)).rejects.toThrow(/has no version 7 \(it has 1\)/);
    await expect(putGoldenSet(store, "../x", set("a"))).rejects.toThrow(InvalidRequestError);
    expect(await listGoldenSets(freshStore())).toEqual([]);
  });
});

describe("parseGoldenSetRef", () => {
  it("reads a name as its latest version and name@N or name@vN as that version", () => {
    expect(parseGoldenSetRef("northwind")).toEqual({ name: "northwind", version: "latest" });
    expect(parseGoldenSetRef("northwind@3")).toEqual({ name: "northwind", version: 3 });
    expect(parseGoldenSetRef("northwind@v3")).toEqual({ name: "northwind", version: 3 });
    expect(() => parseGoldenSetRef("northwind@0")).toThrow(InvalidRequestError);
    expect(() => parseGoldenSetRef("a/b")).toThrow(InvalidRequestError);
  });
});
