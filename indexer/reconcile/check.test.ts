import { describe, expect, it } from "vitest";
import type { StoredRestricts } from "../indexes/vector-index.js";
import type { Metadata } from "../sync/metadata.js";
import { checkIndex, type WantedIndex } from "./check.js";
import { describeFinding, repairOf } from "./findings.js";

const restricts = (doc: string): StoredRestricts => ({ restricts: { documentIds: [doc], tags: [], contentTypes: ["text/plain"] }, numericRestricts: {} });
const metadata = (doc: string): Metadata => ({ ...restricts(doc), record: { documentId: doc, documentIds: [doc], text: "t", title: "", source: "", headingPath: [], tags: [], contentType: "text/plain" } });

/** Chunks a and b indexed, n a near-duplicate of a. */
const wanted: WantedIndex = {
  indexed: new Set(["a", "b"]),
  referenced: new Set(["a", "b", "n"]),
  dupOf: new Map([["n", "a"]]),
  metadata: new Map([
    ["a", metadata("d1")],
    ["b", metadata("d2")],
  ]),
};

describe("checkIndex", () => {
  it("finds nothing when the index holds exactly the indexed chunks with their restricts", () => {
    expect(checkIndex("p", { version: "v1", listed: ["b", "a"], held: new Map([["a", restricts("d1")], ["b", restricts("d2")]]) }, wanted, new Set())).toEqual([]);
  });

  it("finds each kind of index drift once, and says how a repair fixes it", () => {
    const held = new Map([
      ["a", restricts("d1")],
      ["n", restricts("d3")],
      ["x", restricts("ghost")],
    ]);
    const found = checkIndex("p", { version: "v1", listed: ["a", "a", "n", "x"], held }, wanted, new Set(["b"]));
    expect(found).toEqual([
      { kind: "missing", profile: "p", version: "v1", id: "b", cached: true },
      { kind: "duplicate", profile: "p", version: "v1", id: "a", rows: 2 },
      { kind: "duplicate", profile: "p", version: "v1", id: "n", nearDuplicateOf: "a" },
      { kind: "orphan", profile: "p", version: "v1", id: "x" },
    ]);
    expect(found.map(repairOf)).toEqual(["upsert, vector from the embedding cache", "remove every row, upsert once from the embedding cache", "remove the datapoint (a stands in for it)", "remove the datapoint"]);
  });

  it("finds stale restricts and names the namespaces that differ", () => {
    const stale = { ...restricts("d1"), numericRestricts: { date: 5 } };
    const found = checkIndex("p", { version: "v1", listed: ["a", "b"], held: new Map([["a", stale], ["b", restricts("d2")]]) }, wanted, new Set());
    expect(found).toEqual([{ kind: "stale-restricts", profile: "p", version: "v1", id: "a", held: stale, wanted: restricts("d1") }]);
    expect(describeFinding(found[0] as (typeof found)[number])).toBe('v1: a restricts numeric {"date":5} should be {}');
  });

  it("looks for orphans among the ids it was given when the index cannot list them", () => {
    const found = checkIndex("p", { version: "v1", held: new Map([["a", restricts("d1")], ["b", restricts("d2")], ["x", restricts("ghost")]]) }, wanted, new Set());
    expect(found).toEqual([{ kind: "orphan", profile: "p", version: "v1", id: "x" }]);
  });
});
