import { existsSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, inject, it } from "vitest";
import { Redis } from "ioredis";
import { until } from "../../test/support/until.js";
import { createTokenSignal } from "../lifecycle/change-signal.js";
import { ifLeaseFree } from "../sync/corpus-lock.js";
import { vectorIndexConformance } from "../../test/conformance/vector-index.js";
import { ANN_RECALL_SAMPLES, createLanceDbIndex, recallSampleOffsets, toPredicate, type LanceDbIndex, type TableLease } from "./lancedb.js";
import { DimensionMismatchError, type Datapoint, type IndexFilter } from "./vector-index.js";

const freshDir = () => mkdtempSync(join(tmpdir(), "ragops-lance-"));

vectorIndexConformance("LanceDB", (dimensions) => createLanceDbIndex({ dir: freshDir(), version: "v1", dimensions }));
vectorIndexConformance("LanceDB, every query from the in-memory snapshot", (dimensions) => createLanceDbIndex({ dir: freshDir(), version: "v1", dimensions, awaitSnapshot: true }));
vectorIndexConformance("LanceDB, every query from LanceDB's flat search", (dimensions) => createLanceDbIndex({ dir: freshDir(), version: "v1", dimensions, memoryScanMaxRows: 0 }));

const TOKENS = ["a", "b", "c"];
const tokens = fc.subarray(TOKENS);
const datapointArb = (dims: number) =>
  fc.record({
    // Thousandths: real embeddings have no subnormal components (LanceDB's f32 norm of one underflows to 0).
    vector: fc.array(fc.integer({ min: -1000, max: 1000 }).map((x) => x / 1000), { minLength: dims, maxLength: dims }),
    documentIds: tokens,
    tags: tokens,
    date: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }),
  });
const tokenFilter = fc.record({ allow: fc.option(tokens, { nil: undefined }), deny: fc.option(tokens, { nil: undefined }) }, { requiredKeys: [] });
const filterArb: fc.Arbitrary<IndexFilter> = fc.record(
  {
    restricts: fc.record({ documentIds: tokenFilter, tags: tokenFilter }, { requiredKeys: [] }),
    numeric: fc.array(fc.record({ namespace: fc.constant("date" as const), op: fc.constantFrom("LESS", "LESS_EQUAL", "EQUAL", "GREATER_EQUAL", "GREATER", "NOT_EQUAL" as const), value: fc.integer({ min: 0, max: 3 }) }), { maxLength: 2 }),
  },
  { requiredKeys: [] },
);

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

  it("answers every query and filter from its in-memory snapshot exactly as LanceDB's own flat search does", async () => {
    const dims = 4;
    await fc.assert(
      fc.asyncProperty(fc.array(datapointArb(dims), { minLength: 1, maxLength: 30 }), fc.array(fc.tuple(datapointArb(dims), fc.option(filterArb, { nil: undefined }), fc.integer({ min: 1, max: 40 })), { minLength: 1, maxLength: 5 }), async (points, queries) => {
        const dir = freshDir();
        const flat = await createLanceDbIndex({ dir, version: "v1", dimensions: dims, memoryScanMaxRows: 0 });
        const memory = await createLanceDbIndex({ dir, version: "v1", dimensions: dims, awaitSnapshot: true });
        const datapoints: Datapoint[] = points.map((p, i) => ({ id: `p${i}`, vector: p.vector, restricts: { documentIds: p.documentIds, tags: p.tags, contentTypes: [] }, numericRestricts: p.date === undefined ? {} : { date: p.date } }));
        await flat.upsert(datapoints);
        for (const [q, filter, k] of queries) {
          const options = { k, ...(filter ? { filter } : {}) };
          const want = await flat.query(q.vector, options);
          const got = await memory.query(q.vector, options);
          // The same scores rank by rank; among equal scores either index may pick, so each id is checked against its own flat score.
          const flatScore = new Map((await flat.query(q.vector, { ...options, k: 1000 })).map((n) => [n.id, n.score]));
          expect(got.length).toBe(want.length);
          got.forEach((n, i) => {
            expect(n.score).toBeCloseTo((want[i] as { score: number }).score, 5);
            expect(flatScore.get(n.id)).toBeCloseTo(n.score, 5);
          });
        }
        expect((await memory.searchPath()).path).toBe("memory");
        await flat.close();
        await memory.close();
      }),
      { numRuns: 25 },
    );
  });

  it("answers every sparse and fused query, and term statistics, from its in-memory snapshot and from its full-text index as from a scan of the table, whatever was written, rewritten or deleted since the index was built", async () => {
    const dims = 3;
    const sparseArb = fc.option(
      fc.uniqueArray(fc.tuple(fc.integer({ min: 0, max: 6 }), fc.integer({ min: 1, max: 4 })), { selector: ([d]) => d, maxLength: 4 }).map((pairs) => ({ dimensions: pairs.map(([d]) => d), values: pairs.map(([, v]) => v / 2) })),
      { nil: undefined },
    );
    const toPoint = (id: string, p: { vector: number[]; documentIds: string[]; tags: string[]; date?: number | undefined }, sparse: { dimensions: number[]; values: number[] } | undefined): Datapoint => ({
      id,
      vector: p.vector,
      ...(sparse ? { sparse } : {}),
      restricts: { documentIds: p.documentIds, tags: p.tags, contentTypes: [] },
      numericRestricts: p.date === undefined ? {} : { date: p.date },
    });
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.tuple(datapointArb(dims), sparseArb), { minLength: 1, maxLength: 25 }),
        fc.array(fc.tuple(fc.nat(30), datapointArb(dims), sparseArb), { maxLength: 8 }),
        fc.array(fc.nat(30), { maxLength: 5 }),
        fc.array(fc.tuple(datapointArb(dims), sparseArb, fc.option(filterArb, { nil: undefined }), fc.integer({ min: 1, max: 30 }), fc.boolean()), { minLength: 1, maxLength: 4 }),
        async (points, later, removed, queries) => {
          const dir = freshDir();
          const flat = await createLanceDbIndex({ dir, version: "v1", dimensions: dims, memoryScanMaxRows: 0, fullTextMinRows: 0 });
          const memory = await createLanceDbIndex({ dir, version: "v1", dimensions: dims, awaitSnapshot: true, fullTextMinRows: 0 });
          const fullText = await createLanceDbIndex({ dir, version: "v1", dimensions: dims, memoryScanMaxRows: 0, fullTextMinRows: 1, annMinRows: 0 });
          await flat.upsert(points.map(([p, sparse], i) => toPoint(`p${i}`, p, sparse)));
          await fullText.maintain();
          await fullText.indexesSettled();
          // Rows without a sparse vector hold no terms to index (a dense version's rows).
          const holdsTerms = points.some(([, sparse]) => sparse !== undefined);
          const built = (await fullText.describe()).fullText;
          expect(built.lastError).toBeUndefined();
          expect(built.state).toBe(holdsTerms ? "ready" : "none");
          // Searched flat by LanceDB until the index folds them in.
          await flat.upsert(later.map(([n, p, sparse]) => toPoint(`p${n}`, p, sparse)));
          await flat.remove(removed.map((n) => `p${n}`));
          for (const [q, sparse, filter, k, fused] of queries) {
            const options = { k, sparse: sparse ?? { dimensions: [1], values: [1] }, ...(filter ? { filter } : {}), ...(fused ? { fusion: { k: 60, alpha: 0.5, candidates: 5 } } : {}) };
            const vector = fused ? q.vector : null;
            const want = await flat.query(vector, options);
            for (const path of [memory, fullText]) {
              const got = await path.query(vector, options);
              // Sparse scores are sums of float32 weights: equal ones tie exactly on both paths. Fused ranks follow from them.
              if (!fused) expect(got).toEqual(want.map((n) => ({ id: n.id, score: expect.closeTo(n.score, 9) as unknown as number })));
              else expect(got.length).toBe(want.length);
            }
            const terms = [0, 1, 2, 3, 4, 5, 6, 7];
            expect(await memory.termStats(terms)).toEqual(await flat.termStats(terms));
          }
          expect((await memory.searchPath()).path).toBe("memory");
          expect((await fullText.describe()).fullText.queries).toBe(holdsTerms ? queries.length : 0);
          await flat.close();
          await memory.close();
          await fullText.close();
        },
      ),
      { numRuns: 20 },
    );
  });

  it("opens a table written before sparse vectors: its datapoints hold none, new ones do", async () => {
    const dir = freshDir();
    const lancedb = await import("@lancedb/lancedb");
    const db = await lancedb.connect(dir);
    await db.createTable("chunks_v1", [{ id: "old", vector: [1, 0], document_ids: ["d1"], tags: ["t"], content_types: ["text/plain"], num_date: 5 }]);
    db.close();
    const index = await createLanceDbIndex({ dir, version: "v1", dimensions: 2 });
    await index.upsert([{ id: "new", vector: [0, 1], sparse: { dimensions: [7], values: [2] }, restricts: { documentIds: ["d2"], tags: [], contentTypes: [] }, numericRestricts: {} }]);
    expect(await index.query(null, { k: 5, sparse: { dimensions: [7], values: [1] } })).toEqual([{ id: "new", score: 2 }]);
    expect(await index.termStats([7])).toEqual({ datapoints: 1, frequencies: [1] });
    expect((await index.query([1, 0], { k: 5 })).map((n) => n.id)).toEqual(["old", "new"]);
    await index.close();
  });

  it("opens a table written before the full-text index: its rows' terms are written out from their sparse vectors, and the index finds them", async () => {
    const dir = freshDir();
    const lancedb = await import("@lancedb/lancedb");
    const db = await lancedb.connect(dir);
    const before = await db.createTable("chunks_v1", [{ id: "old", vector: [1, 0], document_ids: ["d1"], tags: ["t"], content_types: ["text/plain"], num_date: 5 }]);
    await before.addColumns([
      { name: "sparse_dims", valueSql: "arrow_cast(make_array(7, 4294967295), 'List(UInt32)')" },
      { name: "sparse_values", valueSql: "arrow_cast(make_array(2.0, 1.0), 'List(Float32)')" },
    ]);
    db.close();
    const index = await createLanceDbIndex({ dir, version: "v1", dimensions: 2, memoryScanMaxRows: 0, fullTextMinRows: 1 });
    await index.upsert([{ id: "new", vector: [0, 1], sparse: { dimensions: [7], values: [1] }, restricts: { documentIds: ["d2"], tags: [], contentTypes: [] }, numericRestricts: {} }]);
    await index.maintain();
    await index.indexesSettled();
    expect((await index.describe()).fullText).toMatchObject({ state: "ready", indexedRows: 2 });
    expect(await index.query(null, { k: 5, sparse: { dimensions: [7, 4294967295], values: [1, 1] } })).toEqual([
      { id: "old", score: 3 },
      { id: "new", score: 1 },
    ]);
    expect((await index.describe()).fullText.queries).toBe(1);
    await index.close();
  });

  it("sees another process's write on the very next query, and serves from a fresh snapshot after it", async () => {
    const dir = freshDir();
    const point = (id: string, vector: number[]): Datapoint => ({ id, vector, restricts: { documentIds: [id], tags: [], contentTypes: [] }, numericRestricts: {} });
    const searcher = await createLanceDbIndex({ dir, version: "v1", dimensions: 2 });
    const writer = await createLanceDbIndex({ dir, version: "v1", dimensions: 2, memoryScanMaxRows: 0 });
    await writer.upsert([point("old", [1, 0])]);
    expect((await searcher.query([1, 0], { k: 5 })).map((n) => n.id)).toEqual(["old"]);
    await waitForPath(searcher, "memory");
    await writer.upsert([point("new", [1, 0.01])]);
    await writer.remove(["old"]);
    expect((await searcher.query([1, 0], { k: 5 })).map((n) => n.id)).toEqual(["new"]);
    await waitForPath(searcher, "memory");
    expect(await searcher.searchPath()).toMatchObject({ path: "memory", snapshotRows: 1 });
    expect((await searcher.query([1, 0], { k: 5 })).map((n) => n.id)).toEqual(["new"]);
    await searcher.close();
    await writer.close();
  });

  it("answers the first sparse query and term statistics from the snapshot it waits for, and the first dense one from LanceDB meanwhile", async () => {
    const dir = freshDir();
    const writer = await createLanceDbIndex({ dir, version: "v1", dimensions: 2, memoryScanMaxRows: 0 });
    await writer.upsert([1, 2, 3].map((n) => ({ id: `p${n}`, vector: [1, n], sparse: { dimensions: [n], values: [1] }, restricts: { documentIds: [], tags: [], contentTypes: [] }, numericRestricts: {} })));
    const dense = await createLanceDbIndex({ dir, version: "v1", dimensions: 2 });
    expect((await dense.query([1, 0], { k: 1 })).length).toBe(1);
    expect((await dense.searchPath()).answered).toEqual({ snapshot: 0, caughtUp: 0, lancedb: 1 });
    const sparse = await createLanceDbIndex({ dir, version: "v1", dimensions: 2 });
    expect((await sparse.query(null, { k: 1, sparse: { dimensions: [2], values: [1] } })).map((hit) => hit.id)).toEqual(["p2"]);
    expect(await sparse.termStats([1, 2])).toEqual({ datapoints: 3, frequencies: [1, 1] });
    expect((await sparse.searchPath()).answered).toEqual({ snapshot: 2, caughtUp: 0, lancedb: 0 });
    await Promise.all([dense.close(), sparse.close(), writer.close()]);
  });

  it("never catches up a table without row lineage (made without index.rowLineage): a rewrite of restricts alone is answered by LanceDB, and the state says why", async () => {
    const dir = freshDir();
    const point = (id: string, tag: string): Datapoint => ({ id, vector: [1, Number(id.slice(1)) / 10, 0, 0], restricts: { documentIds: [id], tags: [tag], contentTypes: [] }, numericRestricts: {} });
    const writer = await createLanceDbIndex({ dir, version: "v1", dimensions: 4, memoryScanMaxRows: 0 });
    const searcher = await createLanceDbIndex({ dir, version: "v1", dimensions: 4, minReloadGapMs: 3_600_000 });
    await writer.upsert(Array.from({ length: 5 }, (_, i) => point(`p${i}`, "a")));
    await searcher.query([1, 0, 0, 0], { k: 1 });
    await waitForPath(searcher, "memory", 4);
    await writer.updateRestricts([{ id: "p3", restricts: { documentIds: ["p3"], tags: ["b"], contentTypes: [] }, numericRestricts: {} }]);
    const before = (await searcher.searchPath()).answered;
    const hits = await searcher.query([1, 0, 0, 0], { k: 5, filter: { restricts: { tags: { allow: ["b"] } } } });
    expect(hits.map((hit) => hit.id)).toEqual(["p3"]);
    expect(await searcher.searchPath()).toMatchObject({ path: "lancedb", lastCatchUpRefusal: expect.stringMatching(/keeps no row versions/) as string, answered: { ...before, lancedb: before.lancedb + 1 } });
    await searcher.close();
    await writer.close();
  });

  it("answers from its snapshot caught up with another process's writes (new rows, rewritten restricts, removals) exactly as a fresh snapshot does, and says so", async () => {
    const dims = 4;
    const dir = freshDir();
    const random = (() => {
      let state = 7;
      return () => ((state = (Math.imul(state, 1664525) + 1013904223) >>> 0) / 2 ** 32);
    })();
    const point = (id: string, tag: string): Datapoint => ({
      id,
      vector: Array.from({ length: dims }, () => Math.round((random() * 2 - 1) * 1000) / 1000),
      sparse: { dimensions: [Math.floor(random() * 6), 6 + Math.floor(random() * 6)], values: [1 + Math.floor(random() * 3), 1] },
      restricts: { documentIds: [id], tags: [tag], contentTypes: [] },
      numericRestricts: {},
    });
    // No full reload after the first: every later query must be answered by catching up.
    const searcher = await createLanceDbIndex({ dir, version: "v1", dimensions: dims, minReloadGapMs: 3_600_000, rowLineage: true });
    const writer = await createLanceDbIndex({ dir, version: "v1", dimensions: dims, memoryScanMaxRows: 0 });
    await writer.upsert(Array.from({ length: 60 }, (_, i) => point(`p${i}`, "a")));
    await searcher.query([1, 0, 0, 0], { k: 1 });
    await waitForPath(searcher, "memory", dims);
    const queries = Array.from({ length: 12 }, (_, i) => ({
      vector: Array.from({ length: dims }, () => random() * 2 - 1),
      sparse: { dimensions: [i % 6, 6 + (i % 6)], values: [1, 1] },
      filter: i % 3 === 0 ? { restricts: { tags: { allow: ["b"] } } } : undefined,
    }));
    for (const round of [0, 1, 2]) {
      await writer.upsert(Array.from({ length: 10 }, (_, i) => point(`r${round}-${i}`, "b")));
      await writer.updateRestricts([`p${round}`, `p${round + 10}`].map((id) => ({ id, restricts: { documentIds: [id], tags: ["b"], contentTypes: [] }, numericRestricts: {} })));
      await writer.remove([`p${round + 20}`, `p${round + 30}`, ...(round > 0 ? [`r${round - 1}-0`] : [])]);
      const fresh = await createLanceDbIndex({ dir, version: "v1", dimensions: dims, awaitSnapshot: true });
      for (const { vector, sparse, filter } of queries) {
        const options = { k: 8, ...(filter ? { filter } : {}) };
        expect(await searcher.query(vector, options)).toEqual(await fresh.query(vector, options));
        expect(await searcher.query(null, { ...options, sparse })).toEqual(await fresh.query(null, { ...options, sparse }));
        const fused = { ...options, sparse, fusion: { k: 60, alpha: 0.5, candidates: 5 } };
        expect(await searcher.query(vector, fused)).toEqual(await fresh.query(vector, fused));
      }
      expect(await searcher.termStats([0, 1, 2, 6])).toEqual(await fresh.termStats([0, 1, 2, 6]));
      const path = await searcher.searchPath();
      expect(path).toMatchObject({ path: "memory", snapshotRows: 60, caughtUp: { rowsWrittenSince: expect.any(Number) as number } });
      // Exactly the rows written since the snapshot: the new ones still there and the rewritten ones; skipped, the rewritten and the removed.
      expect(path.caughtUp?.rowsWrittenSince).toBe(10 * (round + 1) - round + 2 * (round + 1));
      expect(path.caughtUp?.rowsSkipped).toBe(4 * (round + 1));
      await fresh.close();
    }
    await searcher.close();
    await writer.close();
  });

  it("leaves a table above memoryScanMaxRows to LanceDB and says why", async () => {
    const index = await createLanceDbIndex({ dir: freshDir(), version: "v1", dimensions: 2, memoryScanMaxRows: 2, awaitSnapshot: true });
    await index.upsert(["a", "b", "c"].map((id, i) => ({ id, vector: [1, i], restricts: { documentIds: [id], tags: [], contentTypes: [] }, numericRestricts: {} })));
    expect((await index.query([1, 0], { k: 2 })).map((n) => n.id)).toEqual(["a", "b"]);
    expect(await index.searchPath()).toMatchObject({ path: "lancedb", reason: "the table has 3 rows, above memoryScanMaxRows (2)" });
    await index.close();
  });
});

describe("LanceDB table versions across processes", () => {
  const row = (id: string, x: number): Datapoint => ({ id, vector: [1, x], restricts: { documentIds: [id], tags: [], contentTypes: [] }, numericRestricts: {} });
  const ids = async (index: LanceDbIndex) => (await index.query([1, 0], { k: 10 })).map((n) => n.id).sort();

  it("sees at its next query the rows another process committed and announced, though it holds its table version in memory", async () => {
    const redis = new Redis(inject("redisUrl"));
    const dir = freshDir();
    const key = `lancedbWrites${process.pid}:${dir}`;
    // Each adapter its own signal on one Redis key, as two processes have them; no recheck within the test.
    const signal = () => createTokenSignal(redis, key, () => undefined);
    const writer = await createLanceDbIndex({ dir, version: "v1", dimensions: 2, writeSignal: signal() });
    const searcher = await createLanceDbIndex({ dir, version: "v1", dimensions: 2, writeSignal: signal(), versionRecheckMs: 3_600_000, awaitSnapshot: true });
    try {
      await writer.upsert([row("a", 0)]);
      expect(await ids(searcher)).toEqual(["a"]);
      for (const id of ["b", "c"]) {
        await writer.upsert([row(id, 1)]);
        expect(await ids(searcher)).toContain(id);
      }
      await writer.remove(["a"]);
      expect(await ids(searcher)).toEqual(["b", "c"]);
    } finally {
      await Promise.all([writer.close(), searcher.close()]);
      redis.disconnect();
    }
  });

  it("sees a commit whose announcement was lost once versionRecheckMs has passed", async () => {
    const redis = new Redis(inject("redisUrl"));
    const dir = freshDir();
    const searcher = await createLanceDbIndex({ dir, version: "v1", dimensions: 2, writeSignal: createTokenSignal(redis, `lancedbWrites${process.pid}:${dir}`, () => undefined), versionRecheckMs: 200, awaitSnapshot: true });
    // A writer that announces nothing: a process killed between its commit and its announcement.
    const silent = await createLanceDbIndex({ dir, version: "v1", dimensions: 2 });
    try {
      expect(await ids(searcher)).toEqual([]);
      await silent.upsert([row("a", 0)]);
      await until(async () => (await ids(searcher)).includes("a") || undefined, "the unannounced row to be seen after the recheck");
    } finally {
      await Promise.all([silent.close(), searcher.close()]);
      redis.disconnect();
    }
  });
});

describe("LanceDB id index", () => {
  it("gets a BTREE index on id once the table is large, and finds rows written before and after it", async () => {
    const dir = freshDir();
    const index = await createLanceDbIndex({ dir, version: "v1", dimensions: 2 });
    const batch = (n: number): Datapoint[] => Array.from({ length: 25 }, (_, i) => ({ id: `w${n}-${i}`, vector: [1, i], restricts: { documentIds: [`d${n}`], tags: [], contentTypes: [] }, numericRestricts: {} }));
    for (let n = 0; n < 55; n++) await index.upsert(batch(n));
    const lancedb = await import("@lancedb/lancedb");
    const db = await lancedb.connect(dir);
    const table = await db.openTable("chunks_v1");
    expect((await table.listIndices()).map((i) => ({ columns: i.columns, type: i.indexType }))).toContainEqual({ columns: ["id"], type: "BTree" });
    table.close();
    db.close();
    expect((await index.fetch(["w0-0", "w54-24", "missing"])).size).toBe(2);
    await index.remove(["w0-0"]);
    expect([...(await index.fetch(["w0-0", "w0-1"])).keys()]).toEqual(["w0-1"]);
    expect(await index.count()).toBe(55 * 25 - 1);
    await index.close();
  });
});

/** Queries until the index answers from its snapshot: a reload is started by a query and runs in the background. */
async function waitForPath(index: Awaited<ReturnType<typeof createLanceDbIndex>>, path: "memory", dimensions = 2): Promise<void> {
  while ((await index.searchPath()).path !== path) {
    await index.query(Array.from({ length: dimensions }, (_, i) => (i === 0 ? 1 : 0)), { k: 1 });
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

describe("LanceDB ANN index upkeep", () => {
  const DIMS = 32;
  /** Clustered unit vectors (a seeded walk around 40 centres), more like embeddings than uniform noise. */
  const clustered = (count: number, seed: number) => {
    let state = seed;
    const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
    const centres = Array.from({ length: 40 }, () => Array.from({ length: DIMS }, random));
    return Array.from({ length: count }, () => {
      const centre = centres[Math.floor(((random() + 1) / 2) * centres.length)] as number[];
      const v = centre.map((x) => x + random());
      const norm = Math.hypot(...v);
      return v.map((x) => x / norm);
    });
  };
  const point = (id: string, vector: number[]): Datapoint => ({ id, vector, restricts: { documentIds: [id.slice(0, 2)], tags: [], contentTypes: [] }, numericRestricts: {} });

  // With stable row ids it once hung under load, on LanceDB's one CPU thread of a 2-core machine (STABLE_ROW_IDS).
  it.each([{ rowLineage: false }, { rowLineage: true }])("builds an HNSW index in the background once a table passes annMinRows, answers ANN queries close to the exact scan, and still finds rows written after it (%o)", async ({ rowLineage }) => {
    const dir = freshDir();
    const index = await createLanceDbIndex({ dir, version: "v1", dimensions: DIMS, annMinRows: 2_000, exactScanBudget: 0, rowLineage });
    const exact = await createLanceDbIndex({ dir, version: "v1", dimensions: DIMS, annMinRows: 0, awaitSnapshot: true, rowLineage });
    expect((await index.describe()).ann).toMatchObject({ state: "none", minRows: 2_000 });
    const vectors = clustered(3_000, 7);
    for (let i = 0; i < vectors.length; i += 250) await index.upsert(vectors.slice(i, i + 250).map((v, j) => point(`p${i + j}`, v)));
    // Writes started the build past 2,000 rows; the rows written during it are folded in by the next compaction.
    await index.indexesSettled();
    const built = (await index.describe()).ann;
    expect(built.state).toBe("ready");
    expect((built.indexedRows ?? 0) + (built.unindexedRows ?? 0)).toBe(3_000);
    expect(built.indexedRows).toBeGreaterThanOrEqual(2_000);
    await index.maintain();
    await index.indexesSettled();
    const health = await index.describe();
    expect(health.ann).toMatchObject({ state: "ready", indexedRows: 3_000, unindexedRows: 0 });
    expect(health.ann.lastBuildSeconds).toBeGreaterThan(0);

    const queries = clustered(50, 99);
    let agreed = 0;
    for (const q of queries) {
      const approximate = (await index.query(q, { k: 10 })).map((n) => n.id);
      const truth = new Set((await exact.query(q, { k: 10 })).map((n) => n.id));
      agreed += approximate.filter((id) => truth.has(id)).length;
    }
    expect(agreed / (10 * queries.length)).toBeGreaterThanOrEqual(0.95);
    expect((await index.describe()).ann.queries).toBe(queries.length);
    expect((await exact.describe()).ann.queries).toBe(0);

    const late = clustered(1, 1234)[0] as number[];
    await index.upsert([point("late", late)]);
    expect((await index.describe()).ann).toMatchObject({ state: "ready", unindexedRows: 1 });
    expect((await index.query(late, { k: 1 }))[0]?.id).toBe("late");
    await exact.close();
    await index.close();
  });

  it("measures the ANN index's recall@10 after a build, on rows of its own, and every process that opens the table reports it", async () => {
    const dir = freshDir();
    const vectors = clustered(3_000, 11);
    const writer = await createLanceDbIndex({ dir, version: "v1", dimensions: DIMS, annMinRows: 0 });
    for (let i = 0; i < vectors.length; i += 500) await writer.upsert(vectors.slice(i, i + 500).map((v, j) => point(`p${i + j}`, v)));
    await writer.close();
    const builder = await createLanceDbIndex({ dir, version: "v1", dimensions: DIMS, annMinRows: 2_000 });
    expect((await builder.describe()).ann.recall).toBeUndefined();
    await builder.maintain();
    await builder.indexesSettled();
    const measured = (await builder.describe()).ann.recall;
    expect(measured).toMatchObject({ queries: ANN_RECALL_SAMPLES, indexedRows: 3_000, ef: 100 });

    // The same definition, recomputed: each sampled row's vector as the question, the row itself left out, ties with the exact tenth counted.
    const exact = await createLanceDbIndex({ dir, version: "v1", dimensions: DIMS, annMinRows: 0, awaitSnapshot: true });
    const reader = await createLanceDbIndex({ dir, version: "v1", dimensions: DIMS, exactScanBudget: 0 });
    expect((await reader.describe()).ann.recall).toEqual(measured);
    const ids = await exact.listIds();
    const vectorOf = new Map(vectors.map((v, i) => [`p${i}`, v]));
    let recalled = 0;
    for (const at of recallSampleOffsets(ids.length, ANN_RECALL_SAMPLES)) {
      const self = ids[at] as string;
      const others = (hits: { id: string; score: number }[]) => hits.filter((n) => n.id !== self).slice(0, 10);
      const truth = others(await exact.query(vectorOf.get(self) as number[], { k: 11 }));
      const tenth = (truth[truth.length - 1] as { score: number }).score;
      const found = others(await reader.query(vectorOf.get(self) as number[], { k: 11 }));
      recalled += found.filter((n) => truth.some((t) => t.id === n.id) || n.score >= tenth - 1e-6).length / truth.length;
    }
    expect((await reader.describe()).ann.queries).toBe(ANN_RECALL_SAMPLES);
    expect(measured?.at10).toBeCloseTo(recalled / ANN_RECALL_SAMPLES, 6);
    await Promise.all([exact.close(), reader.close()]);
    await builder.destroy();
    expect(existsSync(join(dir, "chunks_v1.ann-recall.json"))).toBe(false);
  });

  /** Writes `vectors` (ids p12000 on) through `writer` 100 at a time, running its maintenance after each write while `builder` builds; how many maintenances ran during the build. */
  const writeAndMaintainWhileBuilding = async (builder: LanceDbIndex, writer: LanceDbIndex, vectors: number[][]): Promise<number> => {
    let maintained = 0;
    for (let i = 0; i < vectors.length; i += 100) {
      await writer.upsert(vectors.slice(i, i + 100).map((v, j) => point(`p${12_000 + i + j}`, v)));
      if ((await builder.describe()).ann.state !== "building") continue;
      await writer.maintain();
      maintained += 1;
    }
    return maintained;
  };

  it("does not compact while its index build runs, so the build is not preempted and thrown away (a 1,000,000-row build lost ten minutes so)", async () => {
    const index = await createLanceDbIndex({ dir: freshDir(), version: "v1", dimensions: DIMS, annMinRows: 12_000 });
    const vectors = clustered(13_000, 11);
    for (let i = 0; i < 12_000; i += 2_000) await index.upsert(vectors.slice(i, i + 2_000).map((v, j) => point(`p${i + j}`, v)));
    await index.maintain(); // compacts, then starts the build in the background
    // Rows keep arriving and maintenance keeps running while it builds: each compaction would rewrite the fragments the build read.
    expect(await writeAndMaintainWhileBuilding(index, index, vectors.slice(12_000))).toBeGreaterThan(0);
    await index.indexesSettled();
    const ann = (await index.describe()).ann;
    expect(ann.lastError).toBeUndefined();
    expect(ann.state).toBe("ready");
    // Once it is built, maintenance compacts again and folds the rows written meanwhile into the index.
    await index.maintain();
    await index.indexesSettled();
    expect((await index.describe()).ann).toMatchObject({ state: "ready", unindexedRows: 0 });
    expect(await index.count()).toBe(13_000);
    await index.close();
  });

  it("lets no other process compact the table or build a second index while one builds it: the table's maintenance lease", async () => {
    const redis = new Redis(inject("redisUrl"));
    const dir = freshDir();
    const lease: TableLease = { run: (work) => ifLeaseFree(redis, `lancedbLease${process.pid}:${dir}`, 10_000, work) };
    // Two workers' adapters on one table, as two processes have them.
    const builder = await createLanceDbIndex({ dir, version: "v1", dimensions: DIMS, annMinRows: 12_000, maintenanceLease: lease });
    const vectors = clustered(13_000, 11);
    for (let i = 0; i < 12_000; i += 2_000) await builder.upsert(vectors.slice(i, i + 2_000).map((v, j) => point(`p${i + j}`, v)));
    const other = await createLanceDbIndex({ dir, version: "v1", dimensions: DIMS, annMinRows: 12_000, maintenanceLease: lease });
    try {
      await builder.maintain(); // starts the build in the background
      expect(await writeAndMaintainWhileBuilding(builder, other, vectors.slice(12_000))).toBeGreaterThan(0);
      await builder.indexesSettled();
      await other.indexesSettled();
      expect((await builder.describe()).ann).toMatchObject({ state: "ready" });
      expect((await builder.describe()).ann.lastError).toBeUndefined();
      expect((await other.describe()).ann.lastError).toBeUndefined();
      expect(await other.count()).toBe(13_000);
    } finally {
      await other.close();
      await builder.close();
      redis.disconnect();
    }
  });

  it("never builds one when annMinRows is 0", async () => {
    const index = await createLanceDbIndex({ dir: freshDir(), version: "v1", dimensions: DIMS, annMinRows: 0 });
    await index.upsert(clustered(300, 3).map((v, i) => point(`p${i}`, v)));
    await index.maintain();
    await index.indexesSettled();
    expect((await index.describe()).ann).toEqual({ state: "none", minRows: 0, queries: 0 });
    await index.close();
  });
});
