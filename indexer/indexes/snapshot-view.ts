import { buildSnapshot, scanTopK, type ScanSnapshot, type SnapshotRow } from "./exact-scan.js";
import { buildInvertedIndex, invertedTermStats, sparseTopK, type InvertedIndex } from "./sparse-scan.js";
import type { IndexFilter, Neighbor, SparseVector, TermStats } from "./vector-index.js";

/**
 * What a query is answered from in memory while a table is being written: the
 * last full snapshot, with the rows changed since it was read laid over it.
 *
 * A full snapshot of a table takes a while to read (11,000 rows of 384-d
 * vectors: a few hundred ms), and a table being ingested into changes several
 * times a second, so a snapshot is nearly always a version or two behind. The
 * rows written since are few; they are read (LanceDB's `written_at_ms` column)
 * and searched beside the snapshot, whose own copies of them, and of rows
 * deleted since, are skipped. The answer is the one a fresh snapshot of the
 * table would give, same ids, same scores, same order.
 */
export type MemorySnapshot = ScanSnapshot & { inverted: InvertedIndex };

export interface SearchView {
  base: MemorySnapshot;
  /** Rows of `base` that no longer hold (deleted or rewritten since): 1 skips the row. */
  skip?: Uint8Array;
  /** Rows written since `base` was read, current. */
  delta?: MemorySnapshot;
}

export type MemoryRow = SnapshotRow & { sparse: SparseVector | undefined };

export function buildMemorySnapshot(dimensions: number, rows: readonly MemoryRow[]): MemorySnapshot {
  return { ...buildSnapshot(dimensions, rows), inverted: buildInvertedIndex(rows.map((row) => row.sparse)) };
}

/** Row position of each id of a snapshot, for laying later rows over it. */
export function positionsOf(snapshot: ScanSnapshot): Map<string, number> {
  return new Map(snapshot.ids.map((id, row) => [id, row]));
}

/**
 * The view of a table whose last snapshot is `base` and which now holds
 * `liveRows` rows. `changed` are rows read from the table now that were
 * written since `base` was read (a few more, written shortly before, do no
 * harm). `liveIds`, every id the table holds now, is needed only when rows
 * were deleted since (`needsLiveIds` says so); without it the view cannot be
 * made. Undefined when the rows do not add up: a write the changed rows
 * missed, so the view would be wrong and the caller must not use it.
 */
export function catchUpView(
  base: MemorySnapshot,
  positions: ReadonlyMap<string, number>,
  changed: readonly MemoryRow[],
  liveRows: number,
  liveIds?: ReadonlySet<string>,
): SearchView | undefined {
  const skip = new Uint8Array(base.rows);
  let skipped = 0;
  const mark = (row: number | undefined) => {
    if (row === undefined || skip[row]) return;
    skip[row] = 1;
    skipped += 1;
  };
  const delta = dedupeLastWins(changed);
  for (const row of delta) mark(positions.get(row.id));
  if (needsLiveIds(base, positions, delta, liveRows)) {
    if (!liveIds) return undefined;
    for (let row = 0; row < base.rows; row++) if (!liveIds.has(base.ids[row] as string)) mark(row);
  }
  if (base.rows - skipped + delta.length !== liveRows) return undefined;
  return {
    base,
    ...(skipped ? { skip } : {}),
    ...(delta.length ? { delta: buildMemorySnapshot(base.dimensions, delta) } : {}),
  };
}

/** Whether rows were deleted since `base`: the table holds fewer rows than the snapshot and the changed rows account for. */
export function needsLiveIds(base: ScanSnapshot, positions: ReadonlyMap<string, number>, changed: readonly MemoryRow[], liveRows: number): boolean {
  const ids = new Set(changed.map((row) => row.id));
  let added = 0;
  for (const id of ids) if (!positions.has(id)) added += 1;
  return base.rows + added > liveRows;
}

function dedupeLastWins(rows: readonly MemoryRow[]): MemoryRow[] {
  const byId = new Map<string, MemoryRow>();
  for (const row of rows) byId.set(row.id, row);
  return [...byId.values()];
}

/** The k rows of the view closest to the query by cosine similarity that match the filter, as scanTopK over a fresh snapshot. */
export function viewTopK(view: SearchView, query: ArrayLike<number>, k: number, filter?: IndexFilter): Neighbor[] {
  const fromBase = scanTopK(view.base, query, k, filter, view.skip);
  return view.delta ? mergeNeighbors(fromBase, scanTopK(view.delta, query, k, filter), k) : fromBase;
}

/** The k rows of the view with the highest sparse dot product with the query, as sparseTopK over a fresh snapshot. */
export function viewSparseTopK(view: SearchView, query: SparseVector, k: number, filter?: IndexFilter): Neighbor[] {
  const fromBase = sparseTopK(view.base, view.base.inverted, query, k, filter, view.skip);
  return view.delta ? mergeNeighbors(fromBase, sparseTopK(view.delta, view.delta.inverted, query, k, filter), k) : fromBase;
}

export function viewTermStats(view: SearchView, dimensions: readonly number[]): TermStats {
  const base = invertedTermStats(view.base.inverted, dimensions, view.skip);
  if (!view.delta) return base;
  const delta = invertedTermStats(view.delta.inverted, dimensions);
  return { datapoints: base.datapoints + delta.datapoints, frequencies: base.frequencies.map((n, i) => n + (delta.frequencies[i] ?? 0)) };
}

export function viewRows(view: SearchView): number {
  let skipped = 0;
  if (view.skip) for (const s of view.skip) skipped += s;
  return view.base.rows - skipped + (view.delta?.rows ?? 0);
}

/** Two best-first lists of distinct ids as one, best first, equal scores in id order (the order every scan answers in). */
export function mergeNeighbors(a: readonly Neighbor[], b: readonly Neighbor[], k: number): Neighbor[] {
  return [...a, ...b].sort((x, y) => y.score - x.score || (x.id < y.id ? -1 : x.id > y.id ? 1 : 0)).slice(0, k);
}
