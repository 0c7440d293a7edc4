import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../core/errors.js";
import { candidateDepth, fuse } from "../../indexer/indexes/fusion.js";
import { DimensionMismatchError, type Datapoint, type IndexFilter, type NumericRestricts, type Restricts, type SparseVector, type VectorIndex } from "../../indexer/indexes/vector-index.js";

const DIMS = 8;

/** A unit vector at `degrees` from the first axis, in the plane of the first two: cosine to axis(0) is cos(degrees). */
function at(degrees: number, dims = DIMS): number[] {
  const v = new Array<number>(dims).fill(0);
  v[0] = Math.cos((degrees * Math.PI) / 180);
  v[1] = Math.sin((degrees * Math.PI) / 180);
  return v;
}

const restricts = (documentIds: string[], tags: string[] = [], contentTypes: string[] = ["text/markdown"]): Restricts => ({ documentIds, tags, contentTypes });

function point(id: string, degrees: number, r: Restricts = restricts([id]), numericRestricts: NumericRestricts = {}): Datapoint {
  return { id, vector: at(degrees), restricts: r, numericRestricts };
}

/** A sparse vector from term → weight pairs; term ids as large as an unsigned 32-bit hash gives. */
function sparse(weights: Record<number, number>): SparseVector {
  const entries = Object.entries(weights);
  return { dimensions: entries.map(([d]) => Number(d)), values: entries.map(([, v]) => v) };
}

const BIG = 4_294_967_295;

function sparsePoint(id: string, degrees: number, weights: Record<number, number>, r: Restricts = restricts([id]), numericRestricts: NumericRestricts = {}): Datapoint {
  return { ...point(id, degrees, r, numericRestricts), sparse: sparse(weights) };
}

const fusion = { k: 60, alpha: 0.5, candidates: 100 };

/** Every id the filter lets through, from a query that asks for more than the index holds. */
async function matching(index: VectorIndex, filter: IndexFilter): Promise<string[]> {
  return (await index.query(at(0), { k: 100, filter })).map((n) => n.id).sort();
}

/** What an adapter holds; an adapter that does not yet hold sparse vectors is not run through their cases (and must refuse them). */
export interface Capabilities {
  sparse: boolean;
}

/**
 * The behaviour every VectorIndex adapter must have; run once per adapter.
 * `open` gives a fresh, empty index of the given dimensions each time.
 */
export function vectorIndexConformance(name: string, open: (dimensions: number) => Promise<VectorIndex>, capabilities: Capabilities = { sparse: true }): void {
  describe(`VectorIndex conformance: ${name}`, () => {
    it("answers an empty index with no neighbours, no datapoints and nothing fetched", async () => {
      const index = await open(DIMS);
      expect(index.dimensions).toBe(DIMS);
      expect(await index.query(at(0), { k: 5 })).toEqual([]);
      expect(await index.count()).toBe(0);
      expect(await index.fetch(["a", "b"])).toEqual(new Map());
      await index.close();
    });

    it("upserts idempotently: the same datapoints twice hold once, and a second upsert of an id replaces its vector and restricts", async () => {
      const index = await open(DIMS);
      const points = [point("a", 0), point("b", 60), point("c", 120)];
      await index.upsert(points);
      await index.upsert(points);
      expect(await index.count()).toBe(3);
      await index.upsert([point("c", 1, restricts(["d9"], ["moved"]), { date: 7 })]);
      expect(await index.count()).toBe(3);
      expect((await index.query(at(0), { k: 3 })).map((n) => n.id)).toEqual(["a", "c", "b"]);
      expect((await index.fetch(["c"])).get("c")).toEqual({ restricts: restricts(["d9"], ["moved"]), numericRestricts: { date: 7 } });
      await index.close();
    });

    it("keeps the last of several datapoints with one id in a single upsert", async () => {
      const index = await open(DIMS);
      await index.upsert([point("a", 90, restricts(["first"])), point("a", 0, restricts(["last"]))]);
      expect(await index.count()).toBe(1);
      expect((await index.fetch(["a"])).get("a")?.restricts.documentIds).toEqual(["last"]);
      expect((await index.query(at(0), { k: 1 }))[0]?.score).toBeCloseTo(1, 4);
      await index.close();
    });

    it("removes by id, and removing ids it lacks (or none) is fine", async () => {
      const index = await open(DIMS);
      await index.upsert([point("a", 0), point("b", 30), point("c", 60)]);
      await index.remove(["b", "missing"]);
      await index.remove([]);
      await index.remove(["missing-too"]);
      expect(await index.count()).toBe(2);
      expect((await index.query(at(0), { k: 10 })).map((n) => n.id)).toEqual(["a", "c"]);
      expect([...(await index.fetch(["a", "b", "c"])).keys()].sort()).toEqual(["a", "c"]);
      await index.close();
    });

    it("fetches the restricts and numeric restricts of the ids it holds, and only those", async () => {
      const index = await open(DIMS);
      await index.upsert([point("a", 0, restricts(["d1", "d2"], ["hardware", "policy"], ["text/markdown", "text/plain"]), { date: 1_700_000_000 }), point("b", 10, restricts(["d3"], []))]);
      const stored = await index.fetch(["a", "b", "missing"]);
      expect([...stored.keys()].sort()).toEqual(["a", "b"]);
      expect(stored.get("a")).toEqual({ restricts: restricts(["d1", "d2"], ["hardware", "policy"], ["text/markdown", "text/plain"]), numericRestricts: { date: 1_700_000_000 } });
      expect(stored.get("b")).toEqual({ restricts: restricts(["d3"], []), numericRestricts: {} });
      await index.close();
    });

    it("replaces restricts without touching the vector, to empty lists too, and skips ids it lacks", async () => {
      const index = await open(DIMS);
      await index.upsert([point("a", 0, restricts(["d1"], ["hardware"]), { date: 5 })]);
      await index.updateRestricts([
        { id: "a", restricts: restricts(["d1", "d2"], []), numericRestricts: {} },
        { id: "missing", restricts: restricts(["d1"]), numericRestricts: {} },
      ]);
      expect(await index.count()).toBe(1);
      expect((await index.fetch(["a", "missing"])).get("a")).toEqual({ restricts: restricts(["d1", "d2"], []), numericRestricts: {} });
      const [hit] = await index.query(at(0), { k: 1, filter: { restricts: { documentIds: { allow: ["d2"] } } } });
      expect(hit?.id).toBe("a");
      expect(hit?.score).toBeCloseTo(1, 4);
      await index.close();
    });

    it("filters by allow lists (any token of a namespace, all namespaces) and deny lists (no token)", async () => {
      const index = await open(DIMS);
      await index.upsert([
        point("a", 0, restricts(["d1"], ["hardware", "product"])),
        point("b", 10, restricts(["d2"], ["product"], ["text/plain"])),
        point("c", 20, restricts(["d3"], ["policy"])),
        point("d", 30, restricts(["d3", "d4"], [])),
      ]);
      expect(await matching(index, { restricts: { documentIds: { allow: ["d2", "d3"] } } })).toEqual(["b", "c", "d"]);
      expect(await matching(index, { restricts: { tags: { allow: ["hardware", "policy"] } } })).toEqual(["a", "c"]);
      expect(await matching(index, { restricts: { contentTypes: { allow: ["text/plain"] } } })).toEqual(["b"]);
      expect(await matching(index, { restricts: { tags: { allow: ["product"] }, contentTypes: { allow: ["text/markdown"] } } })).toEqual(["a"]);
      expect(await matching(index, { restricts: { tags: { deny: ["product"] } } })).toEqual(["c", "d"]);
      expect(await matching(index, { restricts: { documentIds: { allow: ["d3"], deny: ["d4"] } } })).toEqual(["c"]);
      expect(await matching(index, { restricts: { tags: { allow: [], deny: [] } } })).toEqual(["a", "b", "c", "d"]);
      expect(await matching(index, { restricts: { tags: { allow: ["nobody"] } } })).toEqual([]);
      await index.close();
    });

    it("treats filter tokens as data, whatever characters they hold", async () => {
      const index = await open(DIMS);
      const odd = "x') OR ('1'='1\" \\ %_*";
      await index.upsert([point("a", 0, restricts(["d1"], [odd])), point("b", 10, restricts(["d2"], ["plain"]))]);
      expect(await matching(index, { restricts: { tags: { allow: [odd] } } })).toEqual(["a"]);
      expect(await matching(index, { restricts: { documentIds: { allow: ["x') OR ('1'='1"] } } })).toEqual([]);
      expect(await matching(index, { restricts: { tags: { deny: [odd] } } })).toEqual(["b"]);
      await index.close();
    });

    it("filters by numeric comparisons, and a datapoint without the namespace matches none", async () => {
      const index = await open(DIMS);
      await index.upsert([point("old", 0, undefined, { date: 100 }), point("mid", 10, undefined, { date: 200 }), point("new", 20, undefined, { date: 300 }), point("undated", 30)]);
      const on = (op: NonNullable<IndexFilter["numeric"]>[number]["op"], value: number) => matching(index, { numeric: [{ namespace: "date", op, value }] });
      expect(await on("LESS", 200)).toEqual(["old"]);
      expect(await on("LESS_EQUAL", 200)).toEqual(["mid", "old"]);
      expect(await on("EQUAL", 200)).toEqual(["mid"]);
      expect(await on("GREATER_EQUAL", 200)).toEqual(["mid", "new"]);
      expect(await on("GREATER", 200)).toEqual(["new"]);
      expect(await on("NOT_EQUAL", 200)).toEqual(["new", "old"]);
      const between = await matching(index, { numeric: [{ namespace: "date", op: "GREATER", value: 100 }, { namespace: "date", op: "LESS_EQUAL", value: 300 }], restricts: { documentIds: { deny: ["new"] } } });
      expect(between).toEqual(["mid"]);
      await index.close();
    });

    it("returns at most k neighbours, best first, with scores that never rise", async () => {
      const index = await open(DIMS);
      const angles = [70, 10, 170, 40, 0, 120, 90, 25];
      await index.upsert(angles.map((a) => point(`p${a}`, a)));
      const all = await index.query(at(0), { k: 100 });
      expect(all.map((n) => n.id)).toEqual([...angles].sort((x, y) => x - y).map((a) => `p${a}`));
      for (const [i, n] of all.entries()) {
        expect(n.score).toBeCloseTo(Math.cos((Number(n.id.slice(1)) * Math.PI) / 180), 4);
        if (i > 0) expect(n.score).toBeLessThanOrEqual(all[i - 1]!.score);
      }
      expect((await index.query(at(0), { k: 3 })).map((n) => n.id)).toEqual(["p0", "p10", "p25"]);
      expect(await index.query(at(0), { k: 1 })).toHaveLength(1);
      await index.close();
    });

    it("refuses vectors of other dimensions with a DimensionMismatchError and writes nothing of that batch", async () => {
      const index = await open(DIMS);
      const wrong: Datapoint = { id: "wide", vector: at(0, DIMS * 2), restricts: restricts(["d1"]), numericRestricts: {} };
      const refused = await index.upsert([point("fine", 0), wrong]).then(() => undefined, (error: unknown) => error);
      expect(refused).toBeInstanceOf(DimensionMismatchError);
      expect(refused).toMatchObject({ expected: DIMS, actual: DIMS * 2, retryable: false });
      expect(await index.count()).toBe(0);
      await expect(index.query(at(0, DIMS - 1), { k: 1 })).rejects.toBeInstanceOf(DimensionMismatchError);
      await index.close();
    });

    it("keeps every one of many concurrent writes", async () => {
      const index = await open(DIMS);
      await Promise.all(Array.from({ length: 24 }, (_, i) => index.upsert([point(`c${i}`, i * 5, restricts([`d${i}`]))])));
      expect(await index.count()).toBe(24);
      await Promise.all([
        ...Array.from({ length: 8 }, (_, i) => index.remove([`c${i}`])),
        ...Array.from({ length: 8 }, (_, i) => index.updateRestricts([{ id: `c${i + 8}`, restricts: restricts([`d${i + 8}`], ["updated"]), numericRestricts: {} }])),
        ...Array.from({ length: 8 }, (_, i) => index.upsert([point(`n${i}`, 100 + i)])),
      ]);
      expect(await index.count()).toBe(24);
      expect(await matching(index, { restricts: { tags: { allow: ["updated"] } } })).toEqual(Array.from({ length: 8 }, (_, i) => `c${i + 8}`).sort());
      expect(await index.fetch(Array.from({ length: 8 }, (_, i) => `c${i}`))).toEqual(new Map());
      await index.close();
    });
    if (!capabilities.sparse) {
      it("refuses sparse vectors, text-only queries and term statistics with an error that says so", async () => {
        const index = await open(DIMS);
        await expect(index.upsert([sparsePoint("a", 0, { 1: 1 })])).rejects.toThrow(/sparse/);
        await expect(index.query(null, { k: 1, sparse: sparse({ 1: 1 }) })).rejects.toThrow(/sparse|text/);
        await expect(index.termStats([1])).rejects.toThrow(/sparse|term/);
        await index.close();
      });
      return;
    }

    it("ranks a sparse query by dot product, and leaves out datapoints that share no dimension with it or hold no sparse vector", async () => {
      const index = await open(DIMS);
      await index.upsert([
        sparsePoint("a", 0, { 1: 1, 2: 0.5 }),
        sparsePoint("b", 10, { 2: 3, [BIG]: 1 }),
        sparsePoint("c", 20, { 3: 4 }),
        sparsePoint("d", 30, {}),
        point("e", 40),
      ]);
      const hits = await index.query(null, { k: 10, sparse: sparse({ 1: 2, 2: 1, [BIG]: 0.5, 9: 7 }) });
      expect(hits.map((n) => n.id)).toEqual(["b", "a"]);
      expect(hits[0]?.score).toBeCloseTo(1 * 3 + 0.5 * 1, 5);
      expect(hits[1]?.score).toBeCloseTo(1 * 2 + 0.5 * 1, 5);
      expect((await index.query(null, { k: 1, sparse: sparse({ 3: 1, 2: 1 }) })).map((n) => n.id)).toEqual(["c"]);
      expect(await index.query(null, { k: 5, sparse: sparse({ 42: 1 }) })).toEqual([]);
      expect(await index.query(null, { k: 5, sparse: sparse({}) })).toEqual([]);
      await index.close();
    });

    it("breaks equal sparse scores by id", async () => {
      const index = await open(DIMS);
      await index.upsert([sparsePoint("m", 0, { 1: 1 }), sparsePoint("k", 50, { 1: 1 }), sparsePoint("z", 90, { 1: 1 })]);
      expect((await index.query(null, { k: 2, sparse: sparse({ 1: 1 }) })).map((n) => n.id)).toEqual(["k", "m"]);
      await index.close();
    });

    it("applies filters to sparse queries as to dense ones", async () => {
      const index = await open(DIMS);
      await index.upsert([
        sparsePoint("a", 0, { 1: 3 }, restricts(["d1"], ["hardware"]), { date: 100 }),
        sparsePoint("b", 10, { 1: 2 }, restricts(["d2"], ["policy"]), { date: 200 }),
        sparsePoint("c", 20, { 1: 1 }, restricts(["d3"], ["hardware"])),
      ]);
      const ids = async (filter: IndexFilter) => (await index.query(null, { k: 10, sparse: sparse({ 1: 1 }), filter })).map((n) => n.id);
      expect(await ids({ restricts: { tags: { allow: ["hardware"] } } })).toEqual(["a", "c"]);
      expect(await ids({ restricts: { documentIds: { deny: ["d1"] } } })).toEqual(["b", "c"]);
      expect(await ids({ numeric: [{ namespace: "date", op: "GREATER", value: 100 }] })).toEqual(["b"]);
      await index.close();
    });

    it("replaces a sparse vector on upsert, drops it when the new datapoint has none, and keeps it through restrict updates", async () => {
      const index = await open(DIMS);
      await index.upsert([sparsePoint("a", 0, { 1: 1 }), sparsePoint("b", 10, { 1: 1 }), sparsePoint("c", 20, { 1: 1 })]);
      await index.upsert([sparsePoint("a", 0, { 2: 5 }), point("b", 10)]);
      await index.updateRestricts([{ id: "c", restricts: restricts(["c"], ["updated"]), numericRestricts: {} }]);
      expect((await index.query(null, { k: 10, sparse: sparse({ 1: 1 }) })).map((n) => n.id)).toEqual(["c"]);
      const [hit] = await index.query(null, { k: 10, sparse: sparse({ 2: 1 }) });
      expect(hit).toMatchObject({ id: "a" });
      expect(hit?.score).toBeCloseTo(5, 5);
      expect((await index.query(null, { k: 10, sparse: sparse({ 1: 1 }), filter: { restricts: { tags: { allow: ["updated"] } } } })).map((n) => n.id)).toEqual(["c"]);
      await index.close();
    });

    it("counts datapoints holding a sparse vector and, per dimension, how many hold it, following upserts and removals", async () => {
      const index = await open(DIMS);
      expect(await index.termStats([1, 2])).toEqual({ datapoints: 0, frequencies: [0, 0] });
      await index.upsert([sparsePoint("a", 0, { 1: 1, 2: 1 }), sparsePoint("b", 10, { 2: 1, [BIG]: 1 }), sparsePoint("c", 20, {}), point("d", 30)]);
      expect(await index.termStats([2, 1, BIG, 7])).toEqual({ datapoints: 3, frequencies: [2, 1, 1, 0] });
      await index.remove(["a"]);
      await index.upsert([sparsePoint("b", 10, { 1: 1 })]);
      expect(await index.termStats([1, 2, BIG])).toEqual({ datapoints: 2, frequencies: [1, 0, 0] });
      expect(await index.termStats([])).toEqual({ datapoints: 2, frequencies: [] });
      await index.close();
    });

    it("fuses a dense and a sparse query by the fusion's method (reciprocal rank, relative score), each side ranking its candidates under the filter", async () => {
      const index = await open(DIMS);
      // Dense order: a b c d e; sparse order: e d c (a and b hold none of the query's terms).
      await index.upsert([
        sparsePoint("a", 0, { 9: 1 }),
        sparsePoint("b", 10, {}),
        sparsePoint("c", 20, { 1: 1 }),
        sparsePoint("d", 30, { 1: 2 }, restricts(["d"], ["odd"])),
        sparsePoint("e", 40, { 1: 3 }),
      ]);
      const query = sparse({ 1: 1 });
      const filter: IndexFilter = { restricts: { tags: { deny: ["odd"] } } };
      for (const method of [undefined, "rrf", "relative-score"] as const) {
        const base = { ...fusion, ...(method ? { method } : {}) };
        for (const options of [base, { ...base, k: 1, alpha: 0.8 }, { ...base, alpha: 0.2 }]) {
          const want = fuse(await index.query(at(0), { k: 100 }), await index.query(null, { k: 100, sparse: query }), options, 3);
          const fused = await index.query(at(0), { k: 3, sparse: query, fusion: options });
          expect(fused.map((n) => n.id)).toEqual(want.map((n) => n.id));
          fused.forEach((n, i) => expect(n.score).toBeCloseTo(want[i]!.score, 6));
        }
        const filtered = await index.query(at(0), { k: 10, sparse: query, fusion: base, filter });
        const want = fuse(await index.query(at(0), { k: 100, filter }), await index.query(null, { k: 100, sparse: query, filter }), base, 10);
        expect(filtered.map((n) => n.id)).toEqual(want.map((n) => n.id));
        expect(filtered.map((n) => n.id)).not.toContain("d");
      }
      await index.close();
    });

    it("draws the fused top k from each side's best max(candidates, 2k), not from everything", async () => {
      const index = await open(DIMS);
      // Dense order a b x f g d c, sparse order c d x: x is third on both sides, which fuses above the others.
      await index.upsert([
        sparsePoint("a", 0, {}),
        sparsePoint("b", 10, {}),
        sparsePoint("x", 20, { 1: 1 }),
        sparsePoint("f", 30, {}),
        sparsePoint("g", 40, {}),
        sparsePoint("d", 150, { 1: 2 }),
        sparsePoint("c", 170, { 1: 3 }),
      ]);
      const query = sparse({ 1: 1 });
      expect((await index.query(at(0), { k: 1, sparse: query, fusion })).map((n) => n.id)).toEqual(["x"]);
      // Two candidates per side: x is on neither, and a and c tie at 0.5 / 61 (id order).
      expect(candidateDepth({ ...fusion, candidates: 2 }, 1)).toBe(2);
      expect((await index.query(at(0), { k: 1, sparse: query, fusion: { ...fusion, candidates: 2 } })).map((n) => n.id)).toEqual(["a"]);
      await index.close();
    });

    it("refuses a sparse vector it cannot hold, a query asking for nothing, and a dense and sparse query without fusion", async () => {
      const index = await open(DIMS);
      const refused = await index.upsert([point("fine", 0), { ...point("bad", 0), sparse: { dimensions: [1, 2], values: [1] } }]).then(() => undefined, (error: unknown) => error);
      expect(refused).toBeInstanceOf(InvalidRequestError);
      expect((refused as Error).message).toMatch(/bad.*2 dimensions but 1 values/);
      expect(await index.count()).toBe(0);
      await expect(index.upsert([{ ...point("twice", 0), sparse: { dimensions: [3, 3], values: [1, 1] } }])).rejects.toBeInstanceOf(InvalidRequestError);
      await expect(index.query(null, { k: 1 })).rejects.toBeInstanceOf(InvalidRequestError);
      await expect(index.query(at(0), { k: 1, sparse: sparse({ 1: 1 }) })).rejects.toThrow(/fusion/);
      await expect(index.query(null, { k: 1, sparse: { dimensions: [1], values: [] } })).rejects.toBeInstanceOf(InvalidRequestError);
      await index.close();
    });
  });
}
