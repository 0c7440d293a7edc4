import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StoredRestricts } from "../indexes/vector-index.js";
import type { ChunkRecord } from "./chunk-store.js";
import { missingFrom } from "./index-writes.js";
import { documentsReaching, numericOf, planMetadataRefresh, restrictsOf, type Metadata } from "./metadata.js";

const HASHES = ["a", "b", "c", "d"];
const restricts = (docs: readonly string[]): StoredRestricts => ({ restricts: { documentIds: [...docs], tags: [], contentTypes: [] }, numericRestricts: {} });
const record = (text: string): ChunkRecord => ({ documentId: "d", documentIds: ["d"], text, title: "", source: "", headingPath: [], tags: [], contentType: "text/plain" });
const metadata = (docs: readonly string[], text: string): Metadata => ({ ...restricts(docs), record: record(text) });

/** What sync wants of each chunk, what each of two targets holds, and what the chunk store holds, from a few variants each. */
const refreshWorld = fc.record({
  wanted: fc.tuple(...HASHES.map(() => fc.tuple(fc.constantFrom(["d"], ["d", "e"]), fc.constantFrom("one", "two")))),
  held: fc.array(fc.dictionary(fc.constantFrom(...HASHES), fc.constantFrom(["d"], ["d", "e"])), { minLength: 2, maxLength: 2 }),
  entries: fc.dictionary(fc.constantFrom(...HASHES), fc.constantFrom("one", "two")),
});

describe("planMetadataRefresh", () => {
  it("writes only what differs: an entry whose text changed, restricts that gained a document", () => {
    const wanted = new Map([
      ["a", metadata(["d", "e"], "one")],
      ["b", metadata(["d"], "new")],
      ["c", metadata(["d"], "same")],
    ]);
    const held = [new Map([["a", restricts(["d"])], ["b", restricts(["d"])], ["c", restricts(["d"])]]), new Map([["b", restricts(["d"])]])];
    const entries = new Map([["a", record("one")], ["b", record("old")], ["c", record("same")]]);
    const plan = planMetadataRefresh(["a", "b", "c"], wanted, held, entries);
    expect([...plan.entries.keys()]).toEqual(["b"]);
    expect(plan.restricts.map((u) => u.map((x) => x.id))).toEqual([["a"], []]);
    // Target 0: a (restricts) and b (entry); target 1 holds only b, whose entry changed.
    expect(plan.writes).toEqual([2, 1]);
  });

  it("updates restricts only of datapoints a target holds, which are never the ones it gets an index write for", () => {
    fc.assert(
      fc.property(refreshWorld, ({ wanted: w, held: h, entries: e }) => {
        const wanted = new Map(HASHES.map((hash, i) => [hash, metadata(w[i]?.[0] ?? [], w[i]?.[1] ?? "")]));
        const held = h.map((o) => new Map(Object.entries(o).map(([hash, docs]) => [hash, restricts(docs)])));
        const entries = new Map(Object.entries(e).map(([hash, text]) => [hash, record(text)]));
        const present = HASHES.filter((hash) => held.some((stored) => stored.has(hash)));
        const plan = planMetadataRefresh(present, wanted, held, entries);
        for (const [i, stored] of held.entries()) {
          const updated = new Set((plan.restricts[i] ?? []).map((u) => u.id));
          const written = missingFrom(present, stored);
          for (const id of updated) {
            expect(stored.has(id)).toBe(true);
            expect(written).not.toContain(id);
            expect(stored.get(id)?.restricts).not.toEqual(wanted.get(id)?.restricts);
          }
          for (const hash of present) if (stored.has(hash) && !updated.has(hash)) expect(stored.get(hash)?.restricts).toEqual(wanted.get(hash)?.restricts);
          const entryChanged = [...plan.entries.keys()].filter((hash) => stored.has(hash));
          expect(plan.writes[i]).toBe(new Set([...updated, ...entryChanged]).size);
        }
        for (const hash of present) expect(plan.entries.has(hash)).toBe(entries.get(hash)?.text !== wanted.get(hash)?.record.text);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("metadata of a chunk", () => {
  it("reaches the documents of a chunk and of its near-duplicates, sorted and once each", () => {
    const direct = new Map([["a", new Set(["m", "k"])]]);
    const dups = new Map([["a", new Set(["x", "y"])]]);
    const dupRefs = new Map([["x", new Set(["k", "b"])], ["y", new Set(["z"])]]);
    expect(documentsReaching("a", direct, dups, dupRefs)).toEqual(["b", "k", "m", "z"]);
  });

  it("gathers the tags and content types of those documents, sorted, skipping documents without metadata", () => {
    const metas = new Map([
      ["k", { tags: ["t2", "t1"], contentType: "text/plain" }],
      ["m", { tags: ["t1"], contentType: "application/pdf" }],
    ]);
    expect(restrictsOf(["k", "m", "gone"], metas)).toEqual({ documentIds: ["k", "m", "gone"], tags: ["t1", "t2"], contentTypes: ["application/pdf", "text/plain"] });
  });

  it("restricts a valid date to epoch seconds, and drops one that does not parse", () => {
    expect(numericOf("2024-03-01T00:00:01.900Z")).toEqual({ date: 1709251201 });
    expect(numericOf("not a date")).toEqual({});
    expect(numericOf(undefined)).toEqual({});
  });
});
