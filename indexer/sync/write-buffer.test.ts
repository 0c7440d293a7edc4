import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { DimensionMismatchError, type Datapoint, type StoredRestricts, type VectorIndex } from "../indexes/vector-index.js";
import { bufferIndex } from "./write-buffer.js";

/** The port's write semantics on a Map, counting the calls that reach it. */
function memoryIndex(dimensions = 2) {
  const rows = new Map<string, Datapoint>();
  const calls = { upsert: 0, remove: 0, updateRestricts: 0 };
  const index: VectorIndex = {
    name: "memory",
    dimensions,
    upsert: async (points) => {
      calls.upsert++;
      for (const p of points) rows.set(p.id, p);
    },
    updateRestricts: async (updates) => {
      calls.updateRestricts++;
      for (const u of updates) {
        const row = rows.get(u.id);
        if (row) rows.set(u.id, { ...row, restricts: u.restricts, numericRestricts: u.numericRestricts });
      }
    },
    remove: async (ids) => {
      calls.remove++;
      for (const id of ids) rows.delete(id);
    },
    fetch: async (ids) => new Map(ids.flatMap((id): Array<[string, StoredRestricts]> => {
      const row = rows.get(id);
      return row ? [[id, { restricts: row.restricts, numericRestricts: row.numericRestricts }]] : [];
    })),
    query: async () => [],
    termStats: async (dimensions) => ({ datapoints: 0, frequencies: dimensions.map(() => 0) }),
    count: async () => rows.size,
    close: async () => undefined,
    destroy: async () => undefined,
  };
  return { index, rows, calls };
}

const restricts = (doc: string): StoredRestricts => ({ restricts: { documentIds: [doc], tags: [], contentTypes: [] }, numericRestricts: {} });
const point = (id: string, doc: string, x = 1): Datapoint => ({ id, vector: [x, 0], ...restricts(doc) });

type Op =
  | { kind: "upsert"; ids: string[]; doc: string }
  | { kind: "remove"; ids: string[] }
  | { kind: "restricts"; ids: string[]; doc: string }
  | { kind: "fetch"; ids: string[] }
  | { kind: "prime"; ids: string[] };
const ids = fc.subarray(["a", "b", "c", "d", "e"], { minLength: 1 });
const doc = fc.constantFrom("d1", "d2", "d3");
const opArb: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("upsert" as const), ids, doc }),
  fc.record({ kind: fc.constant("remove" as const), ids }),
  fc.record({ kind: fc.constant("restricts" as const), ids, doc }),
  fc.record({ kind: fc.constant("fetch" as const), ids }),
  fc.record({ kind: fc.constant("prime" as const), ids }),
);

async function run(target: Pick<VectorIndex, "upsert" | "remove" | "updateRestricts" | "fetch"> & { prime?: (ids: readonly string[]) => Promise<void> }, op: Op) {
  switch (op.kind) {
    case "prime":
      return target.prime?.(op.ids);
    case "upsert":
      return target.upsert(op.ids.map((id) => point(id, op.doc)));
    case "remove":
      return target.remove(op.ids);
    case "restricts":
      return target.updateRestricts(op.ids.map((id) => ({ id, ...restricts(op.doc) })));
    case "fetch":
      return target.fetch(op.ids);
  }
}

describe("an index seen through a commit group's write buffer", () => {
  it("answers every fetch and ends, once flushed, exactly as the index written directly would, whatever it read before", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(opArb, { maxLength: 25 }), fc.subarray(["a", "b", "c", "d", "e"]), async (ops, seeded) => {
        const direct = memoryIndex();
        const behind = memoryIndex();
        // Some datapoints already in the index, so primed and fetched answers start from something.
        for (const index of [direct.index, behind.index]) await index.upsert(seeded.map((id) => point(id, "d0")));
        const buffered = bufferIndex(behind.index);
        for (const op of ops) expect(await run(buffered, op)).toEqual(await run(direct.index, op));
        await buffered.flush();
        expect(behind.rows).toEqual(direct.rows);
        expect(buffered.pending()).toBe(0);
      }),
      { numRuns: 400 },
    );
  });

  it("writes the upserts of many documents in one call, the last datapoint of an id winning", async () => {
    const { index, rows, calls } = memoryIndex();
    const buffered = bufferIndex(index);
    await buffered.upsert([point("a", "d1"), point("b", "d1")]);
    await buffered.upsert([point("b", "d2", 2), point("c", "d2")]);
    expect(calls.upsert).toBe(0);
    expect([...(await buffered.fetch(["a", "b", "z"])).keys()].sort()).toEqual(["a", "b"]);
    await buffered.flush();
    expect(calls.upsert).toBe(1);
    expect(rows.get("b")?.vector).toEqual([2, 0]);
    await buffered.flush();
    expect(calls.upsert).toBe(1);
  });

  it("reads what the index holds once per id: a primed id is answered from memory afterwards", async () => {
    const { index } = memoryIndex();
    await index.upsert([point("a", "d1")]);
    let fetches = 0;
    const counting = { ...index, fetch: async (ids: readonly string[]) => (fetches++, index.fetch(ids)) };
    const buffered = bufferIndex(counting);
    await buffered.prime(["a", "b", "c"]);
    expect(fetches).toBe(1);
    expect([...(await buffered.fetch(["a", "b"])).keys()]).toEqual(["a"]);
    expect([...(await buffered.fetch(["c", "z"])).keys()]).toEqual([]);
    expect(fetches).toBe(2); // only "z" was unknown
  });

  it("refuses a vector of other dimensions at once, so the document that brought it fails and not the group", async () => {
    const buffered = bufferIndex(memoryIndex(2).index);
    await expect(buffered.upsert([{ id: "x", vector: [1, 2, 3], ...restricts("d") }])).rejects.toBeInstanceOf(DimensionMismatchError);
    expect(buffered.pending()).toBe(0);
  });

  it("remembers a failed flush: the lost datapoints are not known to be held, and every later call fails with the same error", async () => {
    const { index } = memoryIndex();
    await index.upsert([point("a", "d1")]);
    const broken = { ...index, upsert: async () => Promise.reject(new Error("index unavailable")) };
    const buffered = bufferIndex(broken);
    await buffered.prime(["a", "b"]);
    await buffered.upsert([point("b", "d1")]);
    expect(buffered.holds("a")).toBe(true);
    expect(buffered.holds("b")).toBe(false); // held back is not held
    await expect(buffered.flush()).rejects.toThrow("index unavailable");
    expect(buffered.failure()).toMatchObject({ message: "index unavailable" });
    expect(buffered.holds("b")).toBe(false);
    await expect(buffered.fetch(["a"])).rejects.toThrow("index unavailable");
    await expect(buffered.upsert([point("c", "d2")])).rejects.toThrow("index unavailable");
    await expect(buffered.remove(["a"])).rejects.toThrow("index unavailable");
  });

  it("knows an upsert is held once its flush succeeded, and writes none of the datapoints it was told to discard", async () => {
    const { index, rows } = memoryIndex();
    const buffered = bufferIndex(index);
    await buffered.upsert([point("a", "d1"), point("b", "d1"), point("c", "d1")]);
    buffered.discard(["b"]);
    expect(buffered.pending()).toBe(2);
    await buffered.flush();
    expect([...rows.keys()].sort()).toEqual(["a", "c"]);
    expect(["a", "b", "c"].map((id) => buffered.holds(id))).toEqual([true, false, true]);
  });
});
