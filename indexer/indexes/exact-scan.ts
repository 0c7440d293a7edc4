import {
  NAMESPACES,
  type IndexFilter,
  type Namespace,
  type Neighbor,
  type NumericFilter,
  type NumericNamespace,
  type StoredRestricts,
} from "./vector-index.js";

/**
 * An exact cosine search over a snapshot of an index held in memory: what
 * FAISS calls a flat inner-product index. LanceDB's own flat search decodes
 * every vector from disk on every query (about 30 ms at 10,000 rows of 384
 * dimensions, 1.2 s at 100,000); this scans the same numbers in memory and
 * returns the same neighbours.
 *
 * The vectors are stored one dimension after another (column-major), so a
 * query touches only the columns where it is non-zero. The offline hashing
 * embedder gives a question of a dozen words about 20 non-zero dimensions of
 * 384, so a scan costs a twentieth of a dense one; a dense query (a real
 * model's) costs one pass over the matrix.
 */
export interface ScanSnapshot {
  readonly rows: number;
  readonly dimensions: number;
  readonly ids: readonly string[];
  /** Column-major: value of dimension d in row r at [d * rows + r]. */
  readonly columns: Float32Array;
  /** Euclidean norm of each row's vector. */
  readonly norms: Float64Array;
  readonly restricts: readonly StoredRestricts[];
}

export interface SnapshotRow {
  id: string;
  vector: ArrayLike<number>;
  restricts: StoredRestricts;
}

/** A snapshot of these rows, in this order (ids are assumed unique, as an index holds them). */
export function buildSnapshot(dimensions: number, rows: readonly SnapshotRow[]): ScanSnapshot {
  const n = rows.length;
  const columns = new Float32Array(n * dimensions);
  const norms = new Float64Array(n);
  rows.forEach((row, r) => {
    let squares = 0;
    for (let d = 0; d < dimensions; d++) {
      const value = row.vector[d] ?? 0;
      columns[d * n + r] = value;
      squares += value * value;
    }
    norms[r] = Math.sqrt(squares);
  });
  return { rows: n, dimensions, ids: rows.map((row) => row.id), columns, norms, restricts: rows.map((row) => row.restricts) };
}

/**
 * The k rows closest to the query by cosine similarity that match the filter,
 * best first; equal scores in id order, so the answer does not depend on the
 * order rows were written in. Scores are cosine similarities as the port
 * defines them; a zero vector on either side has no cosine and is never returned.
 */
export function scanTopK(snapshot: ScanSnapshot, query: ArrayLike<number>, k: number, filter?: IndexFilter, skip?: Uint8Array): Neighbor[] {
  const { rows, dimensions, columns, norms } = snapshot;
  if (k <= 0 || rows === 0) return [];
  const dots = scratchDots(rows);
  const used: number[] = [];
  let queryNorm = 0;
  for (let d = 0; d < dimensions; d++) {
    const weight = query[d] ?? 0;
    if (weight === 0) continue;
    queryNorm += weight * weight;
    used.push(d);
  }
  accumulateDots(dots, columns, rows, query, used);
  queryNorm = Math.sqrt(queryNorm);
  const admits = filter ? filterMatcher(filter) : undefined;
  const best = createTopK(k, snapshot.ids);
  // Rows scoring below the worst of k kept are turned away here, without a call (most rows of a scan).
  let floor = -Infinity;
  for (let r = 0; r < rows; r++) {
    if (skip?.[r] || (admits && !admits(snapshot.restricts[r] as StoredRestricts))) continue;
    const norm = (norms[r] as number) * queryNorm;
    // A zero vector has no direction, so no cosine: LanceDB leaves such rows out too.
    if (norm === 0) continue;
    const score = (dots[r] as number) / norm;
    if (score < floor) continue;
    best.offer(r, score);
    floor = best.floor();
  }
  return best.sorted().map(({ row, score }) => ({ id: snapshot.ids[row] as string, score }));
}

/**
 * Each row's dot product with the query over the query's non-zero dimensions
 * `used`, written into `dots` (whatever it held). Four columns are added per
 * pass over the rows: the pass's loads and stores of `dots`, not the
 * multiplications, are what a scan spends its time on (half the time of one
 * column per pass, measured at 11,000 rows).
 */
function accumulateDots(dots: Float64Array, columns: Float32Array, rows: number, query: ArrayLike<number>, used: readonly number[]): void {
  const single = used.length % 4;
  if (used.length === 0) dots.fill(0);
  for (let j = 0; j < used.length; ) {
    const first = j === 0;
    if (j < single) {
      const w = query[used[j] as number] as number;
      const o = (used[j] as number) * rows;
      if (first) for (let r = 0; r < rows; r++) dots[r] = w * (columns[o + r] as number);
      else for (let r = 0; r < rows; r++) dots[r] = (dots[r] as number) + w * (columns[o + r] as number);
      j += 1;
      continue;
    }
    const [d0, d1, d2, d3] = [used[j] as number, used[j + 1] as number, used[j + 2] as number, used[j + 3] as number];
    const [w0, w1, w2, w3] = [query[d0] as number, query[d1] as number, query[d2] as number, query[d3] as number];
    const [o0, o1, o2, o3] = [d0 * rows, d1 * rows, d2 * rows, d3 * rows];
    if (first) {
      for (let r = 0; r < rows; r++) dots[r] = w0 * (columns[o0 + r] as number) + w1 * (columns[o1 + r] as number) + w2 * (columns[o2 + r] as number) + w3 * (columns[o3 + r] as number);
    } else {
      for (let r = 0; r < rows; r++) {
        dots[r] = (dots[r] as number) + (w0 * (columns[o0 + r] as number) + w1 * (columns[o1 + r] as number) + w2 * (columns[o2 + r] as number) + w3 * (columns[o3 + r] as number));
      }
    }
    j += 4;
  }
}

let dotsBuffer = new Float64Array(0);

/**
 * Room for one scan's dot products. A scan runs synchronously from start to
 * end, so one buffer serves every scan of the process; a fresh array per
 * query (88 kB at 11,000 rows) was a good part of the collector's work under load.
 */
function scratchDots(rows: number): Float64Array {
  if (dotsBuffer.length < rows) dotsBuffer = new Float64Array(rows);
  return dotsBuffer.subarray(0, rows);
}

/** Whether stored restricts satisfy a filter, with the port's semantics (vector-index.ts): allow any, deny none, numeric comparisons, AND across all. */
export function filterMatcher(filter: IndexFilter): (stored: StoredRestricts) => boolean {
  const tokenTests = NAMESPACES.flatMap((ns) => tokenTestsOf(ns, filter.restricts?.[ns]));
  const numericTests = (filter.numeric ?? []).map(numericTest);
  return (stored) => tokenTests.every((test) => test(stored)) && numericTests.every((test) => test(stored));
}

function tokenTestsOf(ns: Namespace, tokens: { allow?: string[]; deny?: string[] } | undefined): Array<(stored: StoredRestricts) => boolean> {
  const tests: Array<(stored: StoredRestricts) => boolean> = [];
  if (tokens?.allow?.length) {
    const allow = new Set(tokens.allow);
    tests.push((stored) => stored.restricts[ns].some((token) => allow.has(token)));
  }
  if (tokens?.deny?.length) {
    const deny = new Set(tokens.deny);
    tests.push((stored) => !stored.restricts[ns].some((token) => deny.has(token)));
  }
  return tests;
}

const COMPARE: Record<NumericFilter["op"], (a: number, b: number) => boolean> = {
  LESS: (a, b) => a < b,
  LESS_EQUAL: (a, b) => a <= b,
  EQUAL: (a, b) => a === b,
  GREATER_EQUAL: (a, b) => a >= b,
  GREATER: (a, b) => a > b,
  NOT_EQUAL: (a, b) => a !== b,
};

function numericTest({ namespace, op, value }: NumericFilter): (stored: StoredRestricts) => boolean {
  const compare = COMPARE[op];
  // A datapoint without the namespace matches no comparison on it, NOT_EQUAL included (SQL's NULL).
  return (stored) => {
    const own = stored.numericRestricts[namespace as NumericNamespace];
    return own !== undefined && compare(own, value);
  };
}

interface Candidate {
  row: number;
  score: number;
}

/** Keeps the k best candidates seen in a min-heap whose root is the worst kept (lowest score, then largest id). */
export function createTopK(k: number, ids: readonly string[]) {
  const heap: Candidate[] = [];
  // a ranks before b: higher score, then smaller id.
  const before = (a: Candidate, b: Candidate) => a.score > b.score || (a.score === b.score && (ids[a.row] as string) < (ids[b.row] as string));
  const swap = (i: number, j: number) => {
    const t = heap[i] as Candidate;
    heap[i] = heap[j] as Candidate;
    heap[j] = t;
  };
  const up = (i: number) => {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!before(heap[parent] as Candidate, heap[i] as Candidate)) return;
      swap(i, parent);
      i = parent;
    }
  };
  const down = (i: number) => {
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let worst = i;
      if (left < heap.length && before(heap[worst] as Candidate, heap[left] as Candidate)) worst = left;
      if (right < heap.length && before(heap[worst] as Candidate, heap[right] as Candidate)) worst = right;
      if (worst === i) return;
      swap(i, worst);
      i = worst;
    }
  };
  return {
    offer(row: number, score: number): void {
      // Most rows of a scan lose to the worst kept: turned away before a candidate is allocated for them.
      if (heap.length >= k && score < (heap[0] as Candidate).score) return;
      const candidate = { row, score };
      if (heap.length < k) {
        heap.push(candidate);
        up(heap.length - 1);
      } else if (before(candidate, heap[0] as Candidate)) {
        heap[0] = candidate;
        down(0);
      }
    },
    /** The score a row must reach to be kept: the worst kept once k are kept. */
    floor: (): number => (heap.length >= k ? (heap[0] as Candidate).score : -Infinity),
    sorted: (): Candidate[] => [...heap].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0)),
  };
}
