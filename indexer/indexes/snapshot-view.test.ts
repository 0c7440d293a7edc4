import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { scanTopK } from "./exact-scan.js";
import { buildMemorySnapshot, catchUpView, positionsOf, viewSparseTopK, viewTermStats, viewTopK, type MemoryRow } from "./snapshot-view.js";
import { invertedTermStats, sparseTopK } from "./sparse-scan.js";
import type { IndexFilter, StoredRestricts } from "./vector-index.js";

const DIMS = 5;
const TERMS = 8;
const TOKENS = ["a", "b", "c"];

const stored = (documentIds: string[], tags: string[], date?: number): StoredRestricts => ({ restricts: { documentIds, tags, contentTypes: [] }, numericRestricts: date === undefined ? {} : { date } });

// Small integers make exact ties common, so the tie order is exercised too.
const vectorArb = fc.array(fc.integer({ min: -2, max: 2 }), { minLength: DIMS, maxLength: DIMS });
const sparseArb = fc.option(
  fc.uniqueArray(fc.integer({ min: 0, max: TERMS - 1 }), { minLength: 1, maxLength: 4 }).chain((dims) =>
    fc.array(fc.integer({ min: 1, max: 3 }), { minLength: dims.length, maxLength: dims.length }).map((values) => ({ dimensions: Uint32Array.from(dims), values: Float32Array.from(values) })),
  ),
  { nil: undefined },
);
const restrictsArb = fc.record({ documentIds: fc.subarray(TOKENS), tags: fc.subarray(TOKENS), date: fc.option(fc.integer({ min: 0, max: 3 }), { nil: undefined }) }).map((s) => stored(s.documentIds, s.tags, s.date));
const contentArb = fc.record({ vector: vectorArb, restricts: restrictsArb, sparse: sparseArb });
const idArb = fc.integer({ min: 0, max: 30 }).map((n) => `c${n}`);
const tableArb = fc.uniqueArray(fc.tuple(idArb, contentArb), { selector: ([id]) => id, maxLength: 25 }).map((pairs) => pairs.map(([id, content]): MemoryRow => ({ id, ...content })));

/** What is written after the snapshot was read: new rows, rewrites of held ones (new vector or restricts), deletions. */
type Write = { kind: "upsert"; id: string; content: Omit<MemoryRow, "id"> } | { kind: "delete"; id: string };
const writeArb: fc.Arbitrary<Write> = fc.oneof(
  fc.record({ kind: fc.constant("upsert" as const), id: idArb, content: contentArb }),
  fc.record({ kind: fc.constant("delete" as const), id: idArb }),
);

const filterArb: fc.Arbitrary<IndexFilter | undefined> = fc.option(
  fc.record({ restricts: fc.record({ tags: fc.record({ allow: fc.option(fc.subarray(TOKENS), { nil: undefined }), deny: fc.option(fc.subarray(TOKENS), { nil: undefined }) }, { requiredKeys: [] }) }, { requiredKeys: [] }), numeric: fc.array(fc.record({ namespace: fc.constant("date" as const), op: fc.constantFrom("LESS" as const, "GREATER_EQUAL" as const), value: fc.integer({ min: 0, max: 3 }) }), { maxLength: 1 }) }, { requiredKeys: [] }),
  { nil: undefined },
);

/** The table after the writes, in write order, and the rows those writes left changed (what `written_at_ms` finds). */
function apply(table: readonly MemoryRow[], writes: readonly Write[]): { now: MemoryRow[]; changed: MemoryRow[] } {
  const rows = new Map(table.map((row) => [row.id, row]));
  const changed = new Set<string>();
  for (const write of writes) {
    if (write.kind === "delete") {
      rows.delete(write.id);
      changed.delete(write.id);
    } else {
      rows.set(write.id, { id: write.id, ...write.content });
      changed.add(write.id);
    }
  }
  return { now: [...rows.values()], changed: [...changed].map((id) => rows.get(id) as MemoryRow) };
}

const sortedById = (rows: readonly MemoryRow[]) => [...rows].sort((a, b) => (a.id < b.id ? -1 : 1));

describe("a snapshot caught up with the rows written since it was read", () => {
  it("answers dense, sparse and term-statistics queries exactly as a fresh snapshot of the table now, whatever was written, rewritten or deleted", () => {
    fc.assert(
      fc.property(
        tableArb,
        fc.array(writeArb, { maxLength: 15 }),
        fc.subarray([...Array(25).keys()]),
        vectorArb,
        sparseArb,
        fc.integer({ min: 1, max: 12 }),
        filterArb,
        (table, writes, unchangedPicked, query, sparseQuery, k, filter) => {
          const base = buildMemorySnapshot(DIMS, table);
          const { now, changed } = apply(table, writes);
          // Rows written shortly before the snapshot was read come back too: they must do no harm.
          const stillHeld = new Set(now.map((row) => row.id));
          const extra = unchangedPicked.map((i) => table[i]).filter((row): row is MemoryRow => row !== undefined && stillHeld.has(row.id) && !changed.some((c) => c.id === row.id));
          const view = catchUpView(base, positionsOf(base), [...extra, ...changed], now.length, stillHeld);
          expect(view).toBeDefined();
          if (!view) return;
          const fresh = buildMemorySnapshot(DIMS, sortedById(now));
          expect(viewTopK(view, query, k, filter)).toEqual(scanTopK(fresh, query, k, filter));
          if (sparseQuery) {
            expect(viewSparseTopK(view, sparseQuery, k, filter)).toEqual(sparseTopK(fresh, fresh.inverted, sparseQuery, k, filter));
            const terms = [...Array(TERMS).keys()];
            expect(viewTermStats(view, terms)).toEqual(invertedTermStats(fresh.inverted, terms));
          }
        },
      ),
      { numRuns: 400 },
    );
  });

  it("is refused when rows were deleted and the live ids are not given, or when the rows do not add up (a write the changed rows missed)", () => {
    const rows: MemoryRow[] = ["a", "b", "c"].map((id, i) => ({ id, vector: [i + 1, 0, 0, 0, 0], restricts: stored([id], []), sparse: undefined }));
    const base = buildMemorySnapshot(DIMS, rows);
    const positions = positionsOf(base);
    // "b" deleted: 2 rows live, and nothing says which one went.
    expect(catchUpView(base, positions, [], 2)).toBeUndefined();
    expect(catchUpView(base, positions, [], 2, new Set(["a", "c"]))).toBeDefined();
    // "d" written but not among the changed rows read: 4 rows live where the view would hold 3.
    expect(catchUpView(base, positions, [], 4)).toBeUndefined();
    // Nothing changed: the base alone, nothing skipped.
    expect(catchUpView(base, positions, [], 3)).toEqual({ base });
  });
});
