import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import type { Connection, Index, Table } from "@lancedb/lancedb";
import { InvalidRequestError, UnavailableError } from "../../core/errors.js";
import { freshRead } from "../../core/fresh-read.js";
import { stampedRead } from "../../core/stamped-read.js";
import type { SnapshotRow } from "./exact-scan.js";
import { idf } from "../sparse/bm25.js";
import { candidateDepth, fuse } from "./fusion.js";
import { datapointTable, loadArrow } from "./lancedb-batch.js";
import { scanSparseTopK, scanTermStats, versionedTermStats, type SparseRow } from "./sparse-scan.js";
import { buildMemorySnapshot, catchUpView, needsLiveIds, positionsOf, viewRows, viewSparseTopK, viewTermStats, viewTopK, type MemorySnapshot, type SearchView } from "./snapshot-view.js";
import {
  DimensionMismatchError,
  NAMESPACES,
  NUMERIC_NAMESPACES,
  sparseProblem,
  type Datapoint,
  type IndexFilter,
  type Namespace,
  type Neighbor,
  type NumericNamespace,
  type NumericRestricts,
  type QueryOptions,
  type SparseVector,
  type TermStats,
  type StoredRestricts,
  type VectorIndex,
} from "./vector-index.js";

/**
 * Embedded vector index on disk: one LanceDB table per index version, one
 * list column per restrict namespace, one nullable column per numeric one,
 * and a datapoint's sparse vector in two nullable list columns (dimensions,
 * values; null: none).
 *
 * Search is exact. A table of up to `memoryScanMaxRows` rows is answered from
 * a snapshot in memory (exact-scan.ts for dense queries, the inverted index
 * of sparse-scan.ts for sparse ones and their term statistics), tagged with the table version it was
 * read at: LanceDB's own flat search decodes every vector on every query
 * (30 ms at 10,000 rows, 1.2 s at 100,000; ../shared/notes/lancedb-search.md),
 * the snapshot scan a small fraction of that. A query first asks the table's
 * version (0.1 ms, and it sees other processes' writes); when the snapshot is
 * older, LanceDB answers that query and a fresh snapshot loads in the
 * background, so a search never waits for a reload and never answers from
 * stale data. Both paths give the same neighbours.
 *
 * Past `annMinRows` rows the writing process also keeps an approximate
 * (HNSW-SQ) index on the vector column, built in the background and never
 * awaited by a write or a search; LanceDB's optimize folds later rows into it
 * and they are searched flat until then, so nothing written is missed. A
 * dense query takes the exact snapshot while its cost (the query's non-zero
 * dimensions times the rows) is within EXACT_SCAN_BUDGET, as the offline
 * embedder's sparse-looking queries are up to 100,000 rows, and the ANN index
 * beyond that (a dense model's queries, larger tables).
 */
/**
 * Writes between compactions of the table's fragments. Each write adds a
 * fragment that every id lookup (fetch, mergeInsert) scans: a first ingest of
 * the shared corpus spent 13 s of LanceDB CPU never compacting, 6.3 s
 * compacting every 50 writes and 3.2 s every 10.
 */
const COMPACT_EVERY_WRITES = 10;

const TOKEN_COLUMNS: Record<Namespace, string> = { documentIds: "document_ids", tags: "tags", contentTypes: "content_types" };
const NUMERIC_COLUMNS: Record<NumericNamespace, string> = { date: "num_date" };
const SPARSE_DIMS = "sparse_dims";
const SPARSE_VALUES = "sparse_values";
const SPARSE_COLUMNS = [SPARSE_DIMS, SPARSE_VALUES];
/**
 * A row's sparse dimensions again, as text ("17 4093 88012"): the column
 * LanceDB's full-text index is built on (whitespace tokens, no positions), so
 * past the snapshot a text question's candidates come from an inverted index
 * instead of a read of every row holding one of its terms. It holds each term
 * once: LanceDB's own BM25 over it only picks candidates, and their scores
 * are ours, from the sparse vectors (fullTextCandidates).
 */
const SPARSE_TERMS = "sparse_terms";
const FULL_TEXT_INDEX_NAME = "sparse_terms_idx";
/**
 * Tables created with stable row ids (`rowLineage`) keep, for every row, the
 * table version that last wrote it (`_row_last_updated_at_version`, kept
 * through compaction): a snapshot's catch-up reads exactly the rows written
 * since it. Tables without (every row says 1) are searched from full
 * snapshots only. An ANN query on a stable-row-id table holding unindexed
 * rows used to hang on a busy 2-core machine: LanceDB's CPU pool had one
 * thread (ensureLanceCpuThreads); with LANCE_CPU_THREADS=1 the ANN upkeep
 * test on such a table hung 6 runs in 10 beside two CPU hogs, with two
 * threads 0 in 15.
 */
const STABLE_ROW_IDS = { new_table_enable_stable_row_ids: "true" };
const LAST_WRITTEN_AT = "_row_last_updated_at_version";
const CREATED_AT = "_row_created_at_version";
/** Rows from which the id column gets a BTREE index (fetch and mergeInsert look rows up by id: 46 ms → 4 ms for 55 ids at 11,000 rows). */
const ID_INDEX_MIN_ROWS = 1_000;
/**
 * Candidates a full-text question takes from LanceDB's index before they are
 * scored exactly: at 100,000 rows of generated corpus, 200 five-word questions,
 * recall@10 against the exact scan was 0.96 from 20 candidates, 0.995 from 50
 * and 1.0 from 100 (RESULTS.md). A question matching no more rows than this is
 * answered exactly.
 */
export const FULL_TEXT_MIN_CANDIDATES = 100;
export const DEFAULT_FULL_TEXT_MIN_ROWS = 20_000;

export function fullTextCandidates(k: number): number {
  return Math.max(FULL_TEXT_MIN_CANDIDATES, 4 * k);
}

/** Rows per `id IN (...)` predicate. */
const IDS_PER_QUERY = 500;

/**
 * Multiply-adds an exact dense query may cost before an ANN index, when there is one, answers instead: about 3 ms of
 * scan. A model's 384-d question over 10,000 rows costs 3.8 M (12 ms measured, against 2 ms from HNSW at recall 0.97);
 * the offline embedder's (about 20 non-zero dimensions) over 100,000 rows costs 2 M, and HNSW-SQ answered such
 * questions at recall 0.49 in bench:search, so they stay exact while the snapshot holds the table.
 */
export const EXACT_SCAN_BUDGET = 2_000_000;
export const DEFAULT_ANN_MIN_ROWS = 20_000;
/** HNSW search breadth; at least 2 x k is used. 100 gave recall@10 0.987 against the exact scan on 20,000 clustered 384-d vectors. */
export const DEFAULT_ANN_EF = 100;
/** Matches search.aliasRecheckMs' default. */
const DEFAULT_VERSION_RECHECK_MS = 5_000;
/** Delta indexes (one per optimize that found new rows) past which an index is rebuilt whole, in the background. */
const MAX_INDEX_DELTAS = 8;
/** Share of rows not yet in an index past which it is rebuilt whole. */
const MAX_UNINDEXED_SHARE = 0.2;
const VECTOR_INDEX_NAME = "vector_idx";
/** IVF partitions of the HNSW-SQ index: one per this many rows (a query probes up to 20; one graph per partition). */
const ROWS_PER_ANN_PARTITION = 50_000;

export interface LanceDbIndexOptions {
  /** Directory holding the LanceDB database. */
  dir: string;
  /** Index version; the table is `chunks_<version>`. */
  version: string;
  dimensions: number;
  /**
   * Largest table answered from an in-memory snapshot (about 1.5 KB per row at
   * 384 dimensions); 0 turns the snapshot off. @defaultValue 100,000
   */
  memoryScanMaxRows?: number;
  /** Wait for a fresh snapshot instead of answering from LanceDB meanwhile (tests of the snapshot path). */
  awaitSnapshot?: boolean;
  /** Least time between two full snapshot loads (tests of the catch-up path set it long). @defaultValue 1,000 ms */
  minReloadGapMs?: number;
  /** Create a new table with stable row ids, and catch its snapshot up with writes (see STABLE_ROW_IDS). @defaultValue false (config's index.rowLineage, on by default, sets it) */
  rowLineage?: boolean;
  /** Rows from which the writing process builds and keeps an ANN index on the vectors; 0: never. @defaultValue 20,000 */
  annMinRows?: number;
  /** HNSW search breadth of ANN queries. @defaultValue 100 */
  annEf?: number;
  /** Rows from which the writing process builds and keeps a full-text index of the sparse vectors' terms; 0: never. @defaultValue 20,000 */
  fullTextMinRows?: number;
  /** Multiply-adds up to which a dense query is answered exactly from the snapshot even when an ANN index exists. @defaultValue EXACT_SCAN_BUDGET */
  exactScanBudget?: number;
  /** Shared by every process that writes this table (each worker): one at a time compacts it or builds its ANN index. @defaultValue held within this process only */
  maintenanceLease?: TableLease;
  /**
   * Shared by every process that opens this table: each announces its commits,
   * and a search asks which table version is current only when the stamp moved
   * (or `versionRecheckMs` passed). Without it every search lists the table's
   * versions on disk. @defaultValue none
   */
  writeSignal?: TableWriteSignal;
  /** Longest a table version is trusted without a listing while the write signal is quiet, ms. @defaultValue 5,000 */
  versionRecheckMs?: number;
}

/**
 * Commits to a table, announced across processes (a token in Redis each
 * writer replaces after committing; change-signal.ts). Listing a table's
 * versions, which LanceDB does on every read with a read consistency of 0,
 * cost a search more CPU than its whole scan of 11,000 rows.
 */
export interface TableWriteSignal {
  /** Rejects when it cannot be read: then the table is listed. */
  stamp(): Promise<string>;
  /** After a commit; never rejects (a missed announcement is seen at the recheck). */
  changed(): Promise<void>;
}

/**
 * Who rewrites a table's files now, across processes. A compaction or an
 * index build committed while another process builds the table's ANN index
 * preempts that build (LanceDB refuses the index as a commit conflict), and
 * two processes building it at once waste one build; both skip their turn
 * when another process holds the lease, and the next maintenance tries again.
 */
export interface TableLease {
  /** Runs `work` holding the lease, or resolves undefined at once when another process holds it. */
  run<T>(work: () => Promise<T>): Promise<T | undefined>;
}

/** The lease of a table no other process writes: this process's own compactions and build take turns. */
function processLease(): TableLease {
  let held = false;
  return {
    run: async (work) => {
      if (held) return undefined;
      held = true;
      try {
        return await work();
      } finally {
        held = false;
      }
    },
  };
}

/** An index LanceDB keeps on a table (the ANN index, the full-text index), as GET /v1/indexes/:version reports it. */
export interface IndexState<Recall> {
  state: "none" | "building" | "ready";
  /** Rows from which one is built (0: never). */
  minRows: number;
  type?: string;
  indexedRows?: number;
  /** Rows written since, searched flat until optimize folds them in. */
  unindexedRows?: number;
  /** Delta indexes optimize added; past MAX_INDEX_DELTAS the index is rebuilt. */
  deltas?: number;
  /** Seconds the last build took. */
  lastBuildSeconds?: number;
  /** Why the last build failed, when it did. */
  lastError?: string;
  /** Queries this process answered from it. */
  queries: number;
  /** Its recall measured after its last build (by whichever process built it), when one was. */
  recall?: Recall;
}

export type AnnState = IndexState<AnnRecall>;
export type FullTextState = IndexState<FullTextRecall>;

/**
 * Recall@10 of the ANN index against the exact answer, measured after each
 * build on ANN_RECALL_SAMPLES of the table's own rows (spread evenly over it:
 * recallSampleOffsets), each row's vector the question and the row itself left
 * out of both answers. An ANN hit scoring at least the exact tenth counts (equal
 * scores are equally right). Rows stand in for questions because the index
 * holds no questions; how far their recall follows real questions' depends on
 * the embedder (bench/RESULTS.md).
 */
export interface AnnRecall {
  at10: number;
  queries: number;
  /** Rows the index held when measured. */
  indexedRows: number;
  /** The HNSW search breadth the ANN answers used. */
  ef: number;
  measuredAt: string;
  seconds: number;
}

/** Questions a recall measurement asks: each costs one flat scan of the table (about 1.2 s at 100,000 rows of 384 dimensions), in the background after a build. */
export const ANN_RECALL_SAMPLES = 10;

/**
 * Recall@10 of full-text answers (fullTextCandidates from the index, scored
 * exactly) against the exact scan of every row holding a term, measured after
 * each build on FULL_TEXT_RECALL_SAMPLES questions: each made of the
 * FULL_TEXT_QUESTION_TERMS heaviest terms of one of the table's rows (spread
 * as recallSampleOffsets spreads them), weighted by the table's own BM25
 * statistics. A hit scoring at least the exact tenth counts.
 */
export interface FullTextRecall {
  at10: number;
  queries: number;
  indexedRows: number;
  /** Candidates each answer took from the index. */
  candidates: number;
  measuredAt: string;
  seconds: number;
}

export const FULL_TEXT_RECALL_SAMPLES = 20;
export const FULL_TEXT_QUESTION_TERMS = 4;

/** Where the measured rows sit in the table's scan order: the middle of each of `samples` equal stretches. */
export function recallSampleOffsets(rows: number, samples: number): number[] {
  const n = Math.min(rows, samples);
  return Array.from({ length: n }, (_, i) => Math.floor(((i + 0.5) * rows) / n));
}

/** How a table is searched now: rows, the snapshot path, the ANN index. */
export type LanceDbHealth = {
  provider: "lancedb";
  rows: number;
  searchPath: SearchPathState;
  ann: AnnState;
  fullText: FullTextState;
};

/** Which path answers queries now, for tests, benchmarks and the version's status. */
export interface SearchPathState {
  path: "memory" | "lancedb";
  /** Rows in the snapshot, when there is one. */
  snapshotRows?: number;
  /** Table version the snapshot was read at. */
  snapshotVersion?: number;
  /** When the table has moved on since: the version searched, and the rows read since the snapshot and skipped in it. */
  caughtUp?: { tableVersion: number; rowsWrittenSince: number; rowsSkipped: number };
  /** Why queries are answered by LanceDB, when they are. */
  reason?: string;
  /** Queries this process answered since it opened the table, by what answered them. */
  answered: { snapshot: number; caughtUp: number; lancedb: number };
  /** Why the last catch-up could not be used, when one could not. */
  lastCatchUpRefusal?: string;
}

export const DEFAULT_MEMORY_SCAN_MAX_ROWS = 100_000;
/** A snapshot reload waits at least this long after the last one, and at least RELOAD_SPACING times its duration. */
const MIN_RELOAD_GAP_MS = 1_000;
const RELOAD_SPACING = 4;

/** The port, plus what only an embedded index does cheaply: list every id (tests, benchmarks, repairs). */
export interface LanceDbIndex extends VectorIndex {
  listIds(): Promise<string[]>;
  searchPath(): Promise<SearchPathState>;
  describe(): Promise<LanceDbHealth>;
  /** Compacts now, folding new rows into the indexes, and starts a build or rebuild of the ANN or full-text index in the background when one is due (writes do both every few writes). */
  maintain(): Promise<void>;
  /** Resolves when no index build (nor the recall measurement after one) this process started is running. */
  indexesSettled(): Promise<void>;
}


/**
 * LanceDB runs its CPU work on a pool of the machine's cores less two (kept
 * for I/O), at least one. With one thread its full-text index build deadlocks
 * once the postings fill more than one batch: the producer holds the pool's
 * only thread while the writer waits for one (lancedb/lancedb#3568; here a
 * build over 50,000 chunks of the shared corpus on 2 cores never returned).
 * Two threads or more, unless the operator chose otherwise, before LanceDB
 * first starts the pool.
 */
export function ensureLanceCpuThreads(env: NodeJS.ProcessEnv = process.env, cores = availableParallelism()): void {
  if (env.LANCE_CPU_THREADS === undefined || env.LANCE_CPU_THREADS === "") env.LANCE_CPU_THREADS = String(Math.max(2, cores - 2));
}

export async function createLanceDbIndex(options: LanceDbIndexOptions): Promise<LanceDbIndex> {
  ensureLanceCpuThreads();
  const lancedb = await import("@lancedb/lancedb");
  const arrow = loadArrow();
  // readConsistencyInterval 0: a server process sees the worker's writes on its next query.
  const db: Connection = await lancedb.connect(options.dir, { readConsistencyInterval: 0 });
  const tableName = `chunks_${options.version.replace(/-/g, "_")}`;
  const tokens = (name: string) => new arrow.Field(name, new arrow.List(new arrow.Field("item", new arrow.Utf8(), true)), false);
  const numeric = (name: string) => new arrow.Field(name, new arrow.Float64(), true);
  const schema = new arrow.Schema([
    new arrow.Field("id", new arrow.Utf8(), false),
    new arrow.Field("vector", new arrow.FixedSizeList(options.dimensions, new arrow.Field("item", new arrow.Float32(), true)), false),
    ...NAMESPACES.map((ns) => tokens(TOKEN_COLUMNS[ns])),
    ...NUMERIC_NAMESPACES.map((ns) => numeric(NUMERIC_COLUMNS[ns])),
    new arrow.Field(SPARSE_DIMS, new arrow.List(new arrow.Field("item", new arrow.Uint32(), true)), true),
    new arrow.Field(SPARSE_VALUES, new arrow.List(new arrow.Field("item", new arrow.Float32(), true)), true),
    new arrow.Field(SPARSE_TERMS, new arrow.Utf8(), true),
  ]);
  let table: Table;
  try {
    table = (await db.tableNames()).includes(tableName)
      ? await db.openTable(tableName)
      : await db.createEmptyTable(tableName, schema, { mode: "create", existOk: true, ...(options.rowLineage ? { storageOptions: STABLE_ROW_IDS } : {}) });
    await migrate(table);
  } catch (error) {
    throw new UnavailableError(`cannot open LanceDB table ${tableName} in ${options.dir}: ${(error as Error).message}`, { cause: error });
  }
  const existingDims = await vectorDimensions(table);
  if (existingDims !== undefined && existingDims !== options.dimensions) {
    throw new DimensionMismatchError(
      options.dimensions,
      existingDims,
      `LanceDB table ${tableName} holds ${existingDims}-dimensional vectors but the embedder gives ${options.dimensions}; build a new index version instead of reusing "${options.version}"`,
    );
  }
  const checkDimensions = (vector: ArrayLike<number>, what: string) => {
    if (vector.length !== options.dimensions) {
      throw new DimensionMismatchError(options.dimensions, vector.length, `${what} has ${vector.length} dimensions, index ${tableName} wants ${options.dimensions}`);
    }
  };

  // Writes from one process go one at a time: concurrent commits to one table only conflict and retry.
  let writes: Promise<unknown> = Promise.resolve();
  let sinceCompaction = 0;
  let idIndexed = await hasIdIndex(table);
  // Every search asks which version of the table is current (a listing of its versions on disk with readConsistencyInterval 0): concurrent askers share
  // one fresh listing, and with a write signal a listing is held while no process announced a commit.
  const listTableVersion = freshRead(() => table.version());
  const writeSignal = options.writeSignal;
  const tableVersion = writeSignal
    ? stampedRead({ stamp: freshRead(() => writeSignal.stamp()), read: listTableVersion, recheckMs: options.versionRecheckMs ?? DEFAULT_VERSION_RECHECK_MS })
    : listTableVersion;
  const committed = async () => writeSignal?.changed();
  const lease = options.maintenanceLease ?? processLease();
  const annEf = options.annEf ?? DEFAULT_ANN_EF;
  const recallFiles = [join(options.dir, `${tableName}.ann-recall.json`), join(options.dir, `${tableName}.fts-recall.json`)] as const;
  const builds = serialQueue();
  const ann = createIndexKeeper(table, {
    name: VECTOR_INDEX_NAME,
    column: "vector",
    config: async (rows) => (await import("@lancedb/lancedb")).Index.hnswSq({ distanceType: "cosine", numPartitions: Math.max(1, Math.round(rows / ROWS_PER_ANN_PARTITION)) }),
    minRows: options.annMinRows ?? DEFAULT_ANN_MIN_ROWS,
    version: tableVersion,
    lease,
    queue: builds,
    measure: () => measureAnnRecall(table, annEf, { indexed: (vector, k) => lanceQuery(vector, k, undefined), exact: (vector, k) => lanceQuery(vector, k, undefined, { flat: true }) }),
    recallFile: recallFiles[0],
    committed,
  });
  const fullText = createIndexKeeper(table, {
    name: FULL_TEXT_INDEX_NAME,
    column: SPARSE_TERMS,
    // Our own terms, as written: split on spaces and nothing else done to them.
    config: async () => (await import("@lancedb/lancedb")).Index.fts({ baseTokenizer: "whitespace", withPosition: false, lowercase: false, stem: false, removeStopWords: false, asciiFolding: false }),
    minRows: options.fullTextMinRows ?? DEFAULT_FULL_TEXT_MIN_ROWS,
    // A dense version's rows hold no terms: nothing to index.
    countedRows: () => table.countRows(`${SPARSE_DIMS} IS NOT NULL`),
    version: tableVersion,
    lease,
    queue: builds,
    measure: () => measureFullTextRecall(table, lanceTermStats, { indexed: (query, k) => fullTextSparseQuery(query, k, undefined), exact: (query, k) => lanceSparseQuery(query, k, undefined) }),
    recallFile: recallFiles[1],
    committed,
  });
  const indexes = [fullText, ann];
  const exactScanBudget = options.exactScanBudget ?? EXACT_SCAN_BUDGET;
  /**
   * Folds fragments (and new rows into the indexes), unless a build of the ANN
   * index (this process's or another's) holds the table's lease: a compaction
   * committed during a build preempts it (LanceDB refuses the index over
   * rewritten fragments), and a 1,000,000-row build lost ten minutes that way.
   * Fragments wait for the build instead.
   */
  const compact = async (): Promise<void> => {
    if (await lease.run(async () => (await table.optimize({ cleanupOlderThan: new Date(Date.now() - 60_000) }), true))) await committed();
  };
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    // Announced whether or not it failed: a write of several commits may have made some.
    const run = writes.then(fn, fn).finally(committed).then(async (value) => {
      // Every write adds a fragment that queries must scan; compact now and then (optimize also folds new rows into the indexes).
      if ((sinceCompaction += 1) >= COMPACT_EVERY_WRITES) {
        sinceCompaction = 0;
        await compact().catch(() => undefined);
        if (!idIndexed) idIndexed = await indexIdsWhenLarge(table);
        for (const keeper of indexes) await keeper.maintain();
      }
      return value;
    });
    writes = run.catch(() => undefined);
    return run;
  };
  const batchColumns = { tokens: TOKEN_COLUMNS, numeric: NUMERIC_COLUMNS, sparseDims: SPARSE_DIMS, sparseValues: SPARSE_VALUES, sparseTerms: SPARSE_TERMS };
  /** Inserts or replaces whole datapoints, as one table of the table's own schema (another process may have migrated it since). */
  const merge = async (points: readonly Datapoint[]) => {
    const data = datapointTable(arrow, await table.schema(), batchColumns, points);
    await table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(data);
  };
  /** Rows of these ids, some columns, IDS_PER_QUERY ids per query. */
  const rowsOf = async (ids: readonly string[], columns: string[]) => {
    const out: Array<Record<string, unknown>> = [];
    for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
      const predicate = `id IN (${ids.slice(i, i + IDS_PER_QUERY).map(sqlString).join(", ")})`;
      out.push(...((await table.query().where(predicate).select(columns).toArray()) as Array<Record<string, unknown>>));
    }
    return out;
  };
  const restrictColumns = ["id", ...NAMESPACES.map((ns) => TOKEN_COLUMNS[ns]), ...NUMERIC_NAMESPACES.map((ns) => NUMERIC_COLUMNS[ns])];

  const checkSparse = (sparse: SparseVector, what: string) => {
    const problem = sparseProblem(sparse);
    if (problem) throw new InvalidRequestError(`${what} has a sparse vector the index cannot hold: ${problem}`);
  };

  /** LanceDB's answer: from the ANN index when there is one, or (`flat`) always from a scan of every row. */
  const lanceQuery = async (vector: Float32Array | number[], k: number, filter: IndexFilter | undefined, how: { flat?: boolean } = {}) => {
    // ef only matters when an HNSW index answers; without one LanceDB scans flat.
    let search = table.vectorSearch(Array.from(vector)).distanceType("cosine").ef(Math.max(annEf, 2 * k)).select(["id", "_distance"]).limit(k);
    if (how.flat) search = search.bypassVectorIndex();
    const predicate = filter ? toPredicate(filter) : undefined;
    if (predicate) search = search.where(predicate);
    const rows = (await search.toArray()) as Array<{ id: string; _distance: number }>;
    return rows.map((row) => ({ id: String(row.id), score: 1 - Number(row._distance) }));
  };
  /**
   * Sparse columns of the rows matching the filter that hold any of `terms`, streamed batch by batch:
   * what answers sparse queries when no snapshot does. A row holding none of a question's terms scores
   * 0 and is never returned, so LanceDB leaves it out rather than send it here: the scan of the whole
   * table stays (LanceDB has no index over our sparse vectors), the copying of all of it into
   * JavaScript does not (at 100,000 rows, 1.2 s to 0.2 s for questions of uncommon terms; RESULTS.md).
   */
  const lanceSparseRows = (source: Table, filter: IndexFilter | undefined, terms: readonly number[]) => {
    const predicate = [filter ? toPredicate(filter) : undefined, `array_has_any(${SPARSE_DIMS}, [${terms.join(", ")}])`].filter(Boolean).join(" AND ");
    return source.query().where(predicate).select(["id", ...SPARSE_COLUMNS]);
  };
  const lanceSparseQuery = async (query: SparseVector, k: number, filter: IndexFilter | undefined) => {
    const terms = askedTerms(query);
    return terms.length === 0 ? [] : scanSparseTopK(sparseRowsOf(lanceSparseRows(table, filter, terms)), query, k);
  };
  /**
   * The fullTextCandidates(k) rows the full-text index ranks first for the question's terms (rows written
   * since its build are searched flat by LanceDB), with their sparse vectors, scored exactly: the answer of
   * lanceSparseQuery whenever the candidates hold its top k, always when no more rows match.
   */
  const fullTextSparseQuery = async (query: SparseVector, k: number, filter: IndexFilter | undefined) => {
    const terms = askedTerms(query);
    if (terms.length === 0) return [];
    let search = table.query().fullTextSearch(terms.join(" "), { columns: SPARSE_TERMS }).select(["id", ...SPARSE_COLUMNS, "_score"]).limit(fullTextCandidates(k));
    const predicate = filter ? toPredicate(filter) : undefined;
    if (predicate) search = search.where(predicate);
    return scanSparseTopK(sparseRowsOf(search), query, k);
  };
  // N and the document frequencies from one version of the table (two reads of a table being written could disagree), each read once per version.
  const lanceTermStats = versionedTermStats(listTableVersion, (version, terms) =>
    atVersion(version, async (pinned): Promise<TermStats> => {
      const datapoints = await pinned.countRows(`${SPARSE_DIMS} IS NOT NULL`);
      if (terms.length === 0) return { datapoints, frequencies: [] };
      const { frequencies } = await scanTermStats(sparseRowsOf(lanceSparseRows(pinned, undefined, terms)), terms);
      return { datapoints, frequencies };
    }),
  );
  const snapshotColumns = [...restrictColumns, "vector", ...SPARSE_COLUMNS];
  const memoryScanMaxRows = options.memoryScanMaxRows ?? DEFAULT_MEMORY_SCAN_MAX_ROWS;
  /** The table as of `version`, on a handle of its own: every read through it sees that version, whatever is written meanwhile. */
  const atVersion = async <T>(version: number, read: (pinned: Table) => Promise<T>): Promise<T> => {
    const pinned = await db.openTable(tableName);
    try {
      await pinned.checkout(version);
      return await read(pinned);
    } finally {
      pinned.close();
    }
  };
  const snapshots = createSnapshotKeeper({
    maxRows: memoryScanMaxRows,
    minReloadGapMs: options.minReloadGapMs ?? MIN_RELOAD_GAP_MS,
    version: tableVersion,
    load: (version) =>
      atVersion(version, async (pinned) => {
        const rows = await pinned.countRows();
        if (rows > memoryScanMaxRows) return { rows };
        const snapshot = buildMemorySnapshot(options.dimensions, await readSnapshotRows(pinned, snapshotColumns));
        // Without index.rowLineage nothing is caught up, so the probe (a scan of every row's version when none has lineage) is skipped.
        return { rows, snapshot, lineage: options.rowLineage === true && (await hasRowLineage(pinned)) };
      }),
    catchUp: (held, version) =>
      atVersion(version, async (pinned) => {
        const changed = await readSnapshotRows(pinned, snapshotColumns, `${LAST_WRITTEN_AT} > ${held.version}`);
        const live = await pinned.countRows();
        const liveIds = needsLiveIds(held.snapshot, held.positions, changed, live) ? new Set(await idsOf(pinned)) : undefined;
        return catchUpView(held.snapshot, held.positions, changed, live, liveIds);
      }),
  });
  const denseSide = async (view: SearchView | undefined, vector: Float32Array | number[], k: number, filter: IndexFilter | undefined) => {
    // A question the exact scan affords is answered without asking whether an ANN index exists (one table version read less).
    if (view && nonZeros(vector) * view.base.rows <= exactScanBudget) return viewTopK(view, vector, k, filter);
    const annReady = await ann.ready();
    if (view && !annReady) return viewTopK(view, vector, k, filter);
    if (annReady) ann.answered();
    return lanceQuery(vector, k, filter);
  };
  const sparseSide = async (view: SearchView | undefined, sparse: SparseVector, k: number, filter: IndexFilter | undefined) => {
    if (view) return viewSparseTopK(view, sparse, k, filter);
    if (!(await fullText.ready())) return lanceSparseQuery(sparse, k, filter);
    fullText.answered();
    return fullTextSparseQuery(sparse, k, filter);
  };

  return {
    name: tableName,
    dimensions: options.dimensions,
    upsert: (datapoints) =>
      serialized(async () => {
        if (datapoints.length === 0) return;
        for (const point of datapoints) {
          checkDimensions(point.vector, `datapoint ${point.id}`);
          if (point.sparse) checkSparse(point.sparse, `datapoint ${point.id}`);
        }
        await merge(dedupeById(datapoints));
      }),
    updateRestricts: (updates) =>
      serialized(async () => {
        if (updates.length === 0) return;
        // An UPDATE cannot set an empty list in LanceDB; rewriting the rows (vector and sparse vector read back) can.
        const held = new Map((await rowsOf(updates.map((u) => u.id), ["id", "vector", ...SPARSE_COLUMNS])).map((row) => [String(row.id), row]));
        const points = updates.flatMap((u): Datapoint[] => {
          const row = held.get(u.id);
          if (!row) return [];
          const sparse = sparseOf(row[SPARSE_DIMS], row[SPARSE_VALUES]);
          return [{ ...u, vector: Array.from(row.vector as ArrayLike<number>), ...(sparse ? { sparse } : {}) }];
        });
        if (points.length) await merge(points);
      }),
    fetch: async (ids) => new Map((await rowsOf(ids, restrictColumns)).map((row) => [String(row.id), toStored(row)])),
    listIds: () => idsOf(table),
    remove: (ids) =>
      serialized(async () => {
        for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
          await table.delete(`id IN (${ids.slice(i, i + IDS_PER_QUERY).map(sqlString).join(", ")})`);
        }
      }),
    query: async (vector, { k, filter, sparse, fusion }: QueryOptions) => {
      if (vector) checkDimensions(vector, "the query vector");
      if (sparse) checkSparse(sparse, "the query");
      if (!vector && !sparse) throw new InvalidRequestError("a query needs a dense vector, a sparse vector or both");
      if (vector && sparse && !fusion) throw new InvalidRequestError("a query with a dense and a sparse vector needs a fusion (method, alpha, candidates) to combine their rankings");
      const snapshot = await snapshots.current({ wait: options.awaitSnapshot === true, loadFirst: sparse !== undefined });
      if (vector && sparse && fusion) {
        const depth = candidateDepth(fusion, k);
        const [dense, sparseHits] = await Promise.all([denseSide(snapshot, vector, depth, filter), sparseSide(snapshot, sparse, depth, filter)]);
        return fuse(dense, sparseHits, fusion, k);
      }
      return vector ? denseSide(snapshot, vector, k, filter) : sparseSide(snapshot, sparse as SparseVector, k, filter);
    },
    termStats: async (dimensions) => {
      const snapshot = await snapshots.current({ wait: options.awaitSnapshot === true, loadFirst: true });
      return snapshot ? viewTermStats(snapshot, dimensions) : lanceTermStats(dimensions);
    },
    searchPath: () => snapshots.state(),
    describe: async () => ({ provider: "lancedb", rows: await table.countRows(), searchPath: await snapshots.state(), ann: await ann.state(), fullText: await fullText.state() }),
    maintain: () =>
      serialized(async () => {
        await compact();
        for (const keeper of indexes) await keeper.maintain();
      }),
    indexesSettled: async () => {
      for (const keeper of indexes) await keeper.settled();
    },
    count: () => table.countRows(),
    close: async () => {
      await writes;
      await snapshots.settled();
      // A build runs on LanceDB's own threads; an unfinished one commits nothing, so close does not wait for it.
      for (const keeper of indexes) keeper.stop();
      table.close();
      db.close();
    },
    destroy: async () => {
      await writes;
      await snapshots.settled();
      for (const keeper of indexes) keeper.stop();
      for (const keeper of indexes) await keeper.settled();
      table.close();
      await db.dropTable(tableName);
      for (const file of recallFiles) await rm(file, { force: true });
      db.close();
    },
  };
}

/** The last full snapshot, with what a catch-up needs: its table version and where each id sits. */
interface HeldSnapshot {
  version: number;
  snapshot: MemorySnapshot;
  positions: Map<string, number>;
  /** Whether the table keeps row versions, so the rows written since can be read (hasRowLineage). */
  lineage: boolean;
}

interface SnapshotSource {
  maxRows: number;
  minReloadGapMs: number;
  version(): Promise<number>;
  /** The table as of `version`: its rows, and a snapshot of them unless they are more than maxRows. */
  load(version: number): Promise<{ rows: number; snapshot?: MemorySnapshot; lineage?: boolean }>;
  /** The held snapshot brought up to `version` by the rows written since, or undefined when that cannot be done exactly. */
  catchUp(held: HeldSnapshot, version: number): Promise<SearchView | undefined>;
}

/** A caught-up snapshot is reloaded whole once this many of its rows changed (and this share of them), so catch-ups stay small. */
const RELOAD_AFTER_CHANGED_ROWS = 500;
const RELOAD_AFTER_CHANGED_SHARE = 0.05;

/**
 * Holds the newest full snapshot of a table and answers from it caught up
 * with the rows written since (snapshot-view.ts): one catch-up per table
 * version, shared by the queries that see it. The snapshot is reloaded whole
 * when catch-ups have grown or cannot be made, one load at a time and spaced
 * out, so a table written continuously (an ingest) does not spend its
 * process reloading. Loads and catch-ups read the table at one version, so
 * neither mixes two.
 */
function createSnapshotKeeper(source: SnapshotSource) {
  let held: HeldSnapshot | undefined;
  let tooLarge: { version: number; rows: number } | undefined;
  let loading: Promise<void> | undefined;
  let following: { version: number; view: Promise<SearchView | undefined> } | undefined;
  let lastFollowed: { version: number; deltaRows: number; skippedRows: number } | undefined;
  let lastCatchUpRefusal: string | undefined;
  let refusedSinceLoad = false;
  const answered = { snapshot: 0, caughtUp: 0, lancedb: 0 };
  let lastLoadEnded = 0;
  let lastLoadMs = 0;
  let lastError: string | undefined;

  const reload = async (): Promise<void> => {
    const started = Date.now();
    try {
      const version = await source.version();
      const loaded = await source.load(version);
      if (loaded.snapshot) {
        held = { version, snapshot: loaded.snapshot, positions: positionsOf(loaded.snapshot), lineage: loaded.lineage === true };
        tooLarge = undefined;
      } else {
        tooLarge = { version, rows: loaded.rows };
        held = undefined;
      }
      following = undefined;
      lastFollowed = undefined;
      refusedSinceLoad = false;
      lastError = undefined;
    } catch (error) {
      // The LanceDB path keeps answering; the next query tries again after the gap.
      lastError = (error as Error).message;
    } finally {
      lastLoadEnded = Date.now();
      lastLoadMs = lastLoadEnded - started;
    }
  };
  const startReload = () => {
    loading ??= reload().finally(() => {
      loading = undefined;
    });
    return loading;
  };
  /** Whether the held snapshot should be read afresh: it cannot be caught up, or its catch-ups have grown. */
  const reloadDue = (): boolean => {
    if (!held?.lineage || refusedSinceLoad) return true;
    if (!lastFollowed) return false;
    const changed = lastFollowed.deltaRows + lastFollowed.skippedRows;
    return changed >= Math.max(RELOAD_AFTER_CHANGED_ROWS, RELOAD_AFTER_CHANGED_SHARE * held.snapshot.rows);
  };
  const follow = (base: HeldSnapshot, version: number): Promise<SearchView | undefined> => {
    if (following?.version === version) return following.view;
    const refuse = (why: string) => {
      lastFollowed = undefined;
      refusedSinceLoad = true;
      lastCatchUpRefusal = why;
      return undefined;
    };
    const view = base.lineage
      ? source.catchUp(base, version).then(
          (caught) => {
            if (!caught) return refuse(`at table version ${version} the rows written since the snapshot did not add up to the table's rows; LanceDB answers until the next snapshot`);
            lastFollowed = { version, deltaRows: caught.delta?.rows ?? 0, skippedRows: caught.base.rows + (caught.delta?.rows ?? 0) - viewRows(caught) };
            return caught;
          },
          (error: Error) => refuse(`the catch-up to table version ${version} failed: ${error.message}`),
        )
      : Promise.resolve(refuse("the table keeps no row versions (made without index.rowLineage, or empty at the last snapshot); it is searched from full snapshots only"));
    following = { version, view };
    return view;
  };

  return {
    /** What the table as it is now is searched from in memory, or undefined when LanceDB must answer (a reload may have started). */
    async current(how: { wait: boolean; loadFirst?: boolean }): Promise<SearchView | undefined> {
      const view = await this.view(how);
      if (!view) answered.lancedb += 1;
      else if (view.delta || view.skip) answered.caughtUp += 1;
      else answered.snapshot += 1;
      return view;
    },
    /**
     * `loadFirst`: when no snapshot is held yet and one is loading, wait for it
     * rather than answer from LanceDB; for sparse queries and term statistics,
     * which LanceDB answers by reading the whole table into this process too.
     */
    async view({ wait, loadFirst = false }: { wait: boolean; loadFirst?: boolean }): Promise<SearchView | undefined> {
      if (source.maxRows <= 0) return undefined;
      const version = await source.version();
      if (held?.version === version) return { base: held.snapshot };
      if (tooLarge?.version === version) return undefined;
      if (wait) {
        await startReload();
        return lastError === undefined ? this.view({ wait }) : undefined;
      }
      const gap = Math.max(source.minReloadGapMs, RELOAD_SPACING * lastLoadMs);
      if (!loading && Date.now() - lastLoadEnded >= gap && reloadDue()) void startReload();
      if (!held && !tooLarge && loading && loadFirst) await loading;
      if (!held || tooLarge) return undefined;
      // A load that ended meanwhile may have read a newer version than this query asked about: newer is as good.
      return held.version >= version ? { base: held.snapshot } : follow(held, version);
    },
    async state(): Promise<SearchPathState> {
      const counts = { answered: { ...answered }, ...(lastCatchUpRefusal ? { lastCatchUpRefusal } : {}) };
      if (source.maxRows <= 0) return { path: "lancedb", reason: "the in-memory snapshot is off (memoryScanMaxRows 0)", ...counts };
      const version = await source.version();
      if (held?.version === version) return { path: "memory", snapshotRows: held.snapshot.rows, snapshotVersion: held.version, ...counts };
      if (tooLarge?.version === version) return { path: "lancedb", reason: `the table has ${tooLarge.rows} rows, above memoryScanMaxRows (${source.maxRows})`, ...counts };
      if (held && lastFollowed) {
        // The table may have moved on since the last query; the next one catches up from the same snapshot.
        return { path: "memory", snapshotRows: held.snapshot.rows, snapshotVersion: held.version, caughtUp: { tableVersion: lastFollowed.version, rowsWrittenSince: lastFollowed.deltaRows, rowsSkipped: lastFollowed.skippedRows }, ...counts };
      }
      return { path: "lancedb", reason: lastError ? `the last snapshot load failed: ${lastError}` : loading ? "a snapshot of the newest table version is loading" : "no snapshot of the newest table version yet", ...counts };
    },
    /** Resolves when no load or catch-up is running (close and destroy wait for them). */
    settled: async (): Promise<void> => {
      await loading;
      await following?.view;
    },
  };
}

/** The terms a sparse question weighs (a zero weight asks for nothing). */
function askedTerms(query: SparseVector): number[] {
  return Array.from(query.dimensions).filter((_, i) => query.values[i] !== 0);
}

function nonZeros(vector: ArrayLike<number>): number {
  let count = 0;
  for (let i = 0; i < vector.length; i++) if (vector[i] !== 0) count += 1;
  return count;
}

/**
 * Builds an index of a table (the ANN index, the full-text index) once the
 * table passes `minRows`, and rebuilds it whole when optimize has stacked up
 * delta indexes or many rows are not in it yet. Builds run in the background,
 * one at a time per process (`queue`) and per table across processes (the
 * lease): a 100,000-row HNSW-SQ build takes about two minutes on 2 cores, and
 * neither writes nor searches wait for it. Whether the table has the index is
 * read from LanceDB (another process may have built it) and kept per table
 * version. After a build, `measure` measures its recall, kept in `recallFile`.
 */
interface IndexKeeperOptions<Recall> {
  name: string;
  column: string;
  /** The index to build over `rows` rows. */
  config: (rows: number) => Promise<Index>;
  minRows: number;
  /** The rows minRows counts, when not all of them (read only once the table has minRows rows). */
  countedRows?: () => Promise<number>;
  version: () => Promise<number>;
  lease: TableLease;
  /** Runs this process's builds of the table's indexes one after another. */
  queue: <T>(work: () => Promise<T>) => Promise<T>;
  measure: () => Promise<Recall>;
  /** Where the last recall measurement is kept for every process that opens the table (a server reports what a worker measured). */
  recallFile: string;
  /** Announces a build's commit to other processes. */
  committed: () => Promise<void>;
}

/** One queue of background work: each piece starts when the one before it ended. */
function serialQueue(): <T>(work: () => Promise<T>) => Promise<T> {
  let tail: Promise<unknown> = Promise.resolve();
  return (work) => {
    const run = tail.then(work, work);
    tail = run.catch(() => undefined);
    return run;
  };
}

function createIndexKeeper<Recall>(table: Table, options: IndexKeeperOptions<Recall>) {
  let building: Promise<void> | undefined;
  /** The recall measurement after a build: the index serves meanwhile, so the state says ready, not building. */
  let measuring: Promise<void> | undefined;
  let stopped = false;
  let lastError: string | undefined;
  let lastBuildSeconds: number | undefined;
  let known: { version: number; ready: boolean } | undefined;
  let queries = 0;

  const stats = () => table.indexStats(options.name).catch(() => undefined);
  const build = (rows: number) => {
    building ??= options
      .queue(async () => {
        if (stopped) return;
        const started = Date.now();
        try {
          const config = await options.config(rows);
          const built = await options.lease.run(async () => {
            await table.createIndex(options.column, { config, replace: true, name: options.name });
            return true;
          });
          // Another process holds the table's lease (compacting, or building an index itself): its turn, not an error.
          if (built) {
            await options.committed();
            lastError = undefined;
            lastBuildSeconds = (Date.now() - started) / 1000;
            const measurement = (async () => {
              if (!stopped) await writeRecall(options.recallFile, await options.measure());
            })().catch(() => undefined); // a failed measurement leaves the last one standing; searches are unaffected
            measuring = measurement;
            void measurement.then(() => {
              if (measuring === measurement) measuring = undefined;
            });
          }
        } catch (error) {
          // Searches go on without it (exact or flat); the next maintenance tries again.
          if (!stopped) lastError = (error as Error).message;
        }
      })
      .finally(() => {
        building = undefined;
        known = undefined;
      });
  };
  return {
    async maintain(): Promise<void> {
      if (options.minRows <= 0 || building || stopped) return;
      let rows = await table.countRows();
      if (rows >= options.minRows && options.countedRows) rows = await options.countedRows();
      if (rows < options.minRows) return;
      const current = await stats();
      const stale = current !== undefined && ((current.numIndices ?? 1) > MAX_INDEX_DELTAS || current.numUnindexedRows > MAX_UNINDEXED_SHARE * rows);
      if (current === undefined || stale) build(rows);
    },
    /** Whether the table has the index now (cached per table version). */
    async ready(): Promise<boolean> {
      if (options.minRows <= 0) return false;
      const version = await options.version();
      if (known?.version !== version) known = { version, ready: (await stats()) !== undefined };
      return known.ready;
    },
    async state(): Promise<IndexState<Recall>> {
      const current = await stats();
      const recall = await readRecall<Recall>(options.recallFile);
      const base = { minRows: options.minRows, queries, ...(lastBuildSeconds !== undefined ? { lastBuildSeconds } : {}), ...(lastError ? { lastError } : {}), ...(recall ? { recall } : {}) };
      const held = current ? { type: current.indexType, indexedRows: current.numIndexedRows, unindexedRows: current.numUnindexedRows, ...(current.numIndices !== undefined ? { deltas: current.numIndices } : {}) } : {};
      if (building) return { state: "building", ...base, ...held };
      if (!current) return { state: "none", ...base };
      return { state: "ready", ...base, ...held };
    },
    settled: async (): Promise<void> => {
      await building;
      await measuring;
    },
    answered(): void {
      queries += 1;
    },
    stop(): void {
      stopped = true;
    },
  };
}

/** A question a recall measurement asks, answered as a search past the snapshot answers it and exactly. */
interface RecallQuestions<Question> {
  indexed: (question: Question, k: number) => Promise<Neighbor[]>;
  exact: (question: Question, k: number) => Promise<Neighbor[]>;
}

/** The ANN index's recall@10 as AnnRecall defines it. */
async function measureAnnRecall(table: Table, ef: number, ask: RecallQuestions<number[]>): Promise<AnnRecall> {
  const started = Date.now();
  const indexedRows = (await table.indexStats(VECTOR_INDEX_NAME))?.numIndexedRows ?? 0;
  const offsets = recallSampleOffsets(await table.countRows(), ANN_RECALL_SAMPLES);
  let sum = 0;
  for (const offset of offsets) {
    const [row] = (await table.query().select(["id", "vector"]).offset(offset).limit(1).toArray()) as Array<{ id: string; vector: { toArray(): Float32Array } }>;
    if (!row) continue;
    const self = String(row.id);
    const vector = Array.from(row.vector.toArray());
    const others = (hits: readonly Neighbor[]) => hits.filter((n) => n.id !== self).slice(0, 10);
    sum += recallAt10(others(await ask.exact(vector, 11)), others(await ask.indexed(vector, 11)));
  }
  return { at10: offsets.length ? sum / offsets.length : 1, queries: offsets.length, indexedRows, ef, measuredAt: new Date().toISOString(), seconds: (Date.now() - started) / 1000 };
}

/** The full-text index's recall@10 as FullTextRecall defines it. */
async function measureFullTextRecall(table: Table, termStats: (terms: readonly number[]) => Promise<TermStats>, ask: RecallQuestions<SparseVector>): Promise<FullTextRecall> {
  const started = Date.now();
  const indexedRows = (await table.indexStats(FULL_TEXT_INDEX_NAME))?.numIndexedRows ?? 0;
  const withTerms = `${SPARSE_DIMS} IS NOT NULL`;
  const offsets = recallSampleOffsets(await table.countRows(withTerms), FULL_TEXT_RECALL_SAMPLES);
  let sum = 0;
  for (const offset of offsets) {
    const [row] = (await table.query().where(withTerms).select(["id", ...SPARSE_COLUMNS]).offset(offset).limit(1).toArray()) as Array<Record<string, unknown>>;
    const sparse = row ? sparseOf(row[SPARSE_DIMS], row[SPARSE_VALUES]) : undefined;
    if (!sparse) continue;
    const terms = heaviestTerms(sparse, FULL_TEXT_QUESTION_TERMS);
    const stats = await termStats(terms);
    const question: SparseVector = { dimensions: terms, values: terms.map((_, i) => idf(stats.datapoints, stats.frequencies[i] ?? 0)) };
    sum += recallAt10(await ask.exact(question, 10), await ask.indexed(question, 10));
  }
  return { at10: offsets.length ? sum / offsets.length : 1, queries: offsets.length, indexedRows, candidates: fullTextCandidates(10), measuredAt: new Date().toISOString(), seconds: (Date.now() - started) / 1000 };
}

/** The dimensions of a sparse vector's `n` largest weights. */
function heaviestTerms(sparse: SparseVector, n: number): number[] {
  const order = Array.from(sparse.dimensions.keys()).sort((a, b) => (sparse.values[b] as number) - (sparse.values[a] as number));
  return order.slice(0, n).map((i) => sparse.dimensions[i] as number);
}

/** Share of the exact answer (up to 10) an answer found; a hit scoring at least the exact last one counts (equal scores are equally right). */
export function recallAt10(truth: readonly Neighbor[], found: readonly Neighbor[]): number {
  const last = truth[truth.length - 1];
  if (!last) return 1; // nothing to find: nothing missed
  const ids = new Set(truth.map((n) => n.id));
  const tolerance = 1e-6 * Math.max(1, Math.abs(last.score));
  return found.slice(0, truth.length).filter((n) => ids.has(n.id) || n.score >= last.score - tolerance).length / truth.length;
}

async function writeRecall(file: string, recall: unknown): Promise<void> {
  const partial = `${file}.${process.pid}.partial`;
  await writeFile(partial, JSON.stringify(recall));
  await rename(partial, file);
}

async function readRecall<Recall>(file: string): Promise<Recall | undefined> {
  try {
    return JSON.parse(await readFile(file, "utf8")) as Recall;
  } catch {
    return undefined; // none measured yet
  }
}

/** Every row's id, vector, restricts and sparse vector, for a snapshot. */
async function readSnapshotRows(table: Table, columns: string[], where?: string): Promise<Array<SnapshotRow & { sparse: SparseVector | undefined }>> {
  const query = table.query().select(columns);
  const data = await (where ? query.where(where) : query).toArrow();
  const rows: Array<SnapshotRow & { sparse: SparseVector | undefined }> = [];
  for (const batch of data.batches) {
    const ids = batch.getChild("id");
    const vectors = batch.getChild("vector");
    const dims = batch.getChild(SPARSE_DIMS);
    const values = batch.getChild(SPARSE_VALUES);
    const restrictCols = restrictColumnVectors(batch);
    for (let i = 0; i < batch.numRows; i++) {
      const record: Record<string, unknown> = {};
      for (const [name, column] of restrictCols) record[name] = column?.get(i);
      rows.push({ id: String(ids?.get(i)), vector: (vectors?.get(i) as { toArray(): Float32Array }).toArray(), restricts: toStored(record), sparse: sparseOf(dims?.get(i), values?.get(i)) });
    }
  }
  return rows;
}

/** Each row's id and sparse vector, batch by batch, from batches of those columns (rows without one skipped). */
async function* sparseRowsOf(batches: AsyncIterable<{ numRows: number; getChild(name: string): { get(i: number): unknown } | null }>): AsyncGenerator<SparseRow[]> {
  for await (const batch of batches) {
    const ids = batch.getChild("id");
    const dims = batch.getChild(SPARSE_DIMS);
    const values = batch.getChild(SPARSE_VALUES);
    const rows: SparseRow[] = [];
    for (let i = 0; i < batch.numRows; i++) {
      const sparse = sparseOf(dims?.get(i), values?.get(i));
      if (sparse) rows.push({ id: String(ids?.get(i)), sparse });
    }
    yield rows;
  }
}

/** A row's sparse vector from its two list columns (arrow vectors or plain arrays), or undefined when it holds none. */
function sparseOf(dims: unknown, values: unknown): SparseVector | undefined {
  const array = (v: unknown) => (v === null || v === undefined ? undefined : Array.isArray(v) ? v : (v as { toArray(): ArrayLike<number> }).toArray());
  const d = array(dims);
  const w = array(values);
  // Arrow hands out typed views of the batch's buffers: used as they are, not copied.
  return d && w ? { dimensions: d instanceof Uint32Array ? d : Uint32Array.from(d as ArrayLike<number>), values: w instanceof Float32Array ? w : Float32Array.from(w as ArrayLike<number>) } : undefined;
}

function restrictColumnVectors(batch: { getChild(name: string): { get(i: number): unknown } | null }): Array<[string, { get(i: number): unknown } | null]> {
  const names = [...NAMESPACES.map((ns) => TOKEN_COLUMNS[ns]), ...NUMERIC_NAMESPACES.map((ns) => NUMERIC_COLUMNS[ns])];
  return names.map((name) => [name, batch.getChild(name)]);
}

async function idsOf(table: Table): Promise<string[]> {
  return ((await table.query().select(["id"]).toArray()) as Array<{ id: string }>).map((row) => String(row.id));
}

async function hasIdIndex(table: Table): Promise<boolean> {
  return (await table.listIndices()).some((index) => index.columns.includes("id"));
}

/** A BTREE index on id once the table has ID_INDEX_MIN_ROWS rows; whether the table has one now. Another process may build it first: that is fine. */
async function indexIdsWhenLarge(table: Table): Promise<boolean> {
  if ((await table.countRows()) < ID_INDEX_MIN_ROWS) return false;
  const { Index } = await import("@lancedb/lancedb");
  await table.createIndex("id", { config: Index.btree(), replace: false }).catch(() => undefined);
  return hasIdIndex(table);
}

/** Tables written before the index held no payload: drop the payload, add the numeric columns (null: unknown); before sparse vectors: add their columns (null: none); before the full-text index: add the terms column. */
async function migrate(table: Table): Promise<void> {
  const names = new Set((await table.schema()).fields.map((f) => f.name));
  if (names.has("payload")) await table.dropColumns(["payload"]);
  const missing = NUMERIC_NAMESPACES.map((ns) => NUMERIC_COLUMNS[ns]).filter((name) => !names.has(name));
  if (missing.length) await table.addColumns(missing.map((name) => ({ name, valueSql: "CAST(NULL AS DOUBLE)" })));
  // An arrow Field from our apache-arrow is not the one LanceDB's CommonJS build checks with instanceof; SQL casts work.
  const sparseTypes: Record<string, string> = { [SPARSE_DIMS]: "List(UInt32)", [SPARSE_VALUES]: "List(Float32)" };
  const sparseMissing = SPARSE_COLUMNS.filter((name) => !names.has(name));
  if (sparseMissing.length) await table.addColumns(sparseMissing.map((name) => ({ name, valueSql: `arrow_cast(NULL, '${sparseTypes[name]}')` })));
  // Before the full-text index: each row's terms written out from its sparse dimensions, as a write would (null where none).
  if (!names.has(SPARSE_TERMS)) await table.addColumns([{ name: SPARSE_TERMS, valueSql: `array_to_string(${SPARSE_DIMS}, ' ')` }]);
}

/**
 * Whether LanceDB keeps row versions for this table: a table without stable
 * row ids says every row was created at version 1, and ragops creates its
 * tables empty, so any row created later proves it. (An empty table says no:
 * it is caught up by full snapshots until it has rows.)
 */
async function hasRowLineage(table: Table): Promise<boolean> {
  return (await table.query().where(`${CREATED_AT} > 1`).select(["id"]).limit(1).toArray()).length > 0;
}

async function vectorDimensions(table: Table): Promise<number | undefined> {
  const schema = await table.schema();
  const field = schema.fields.find((f) => f.name === "vector");
  const type = field?.type as { listSize?: number } | undefined;
  return type?.listSize;
}

function dedupeById(datapoints: readonly Datapoint[]): Datapoint[] {
  const byId = new Map<string, Datapoint>();
  for (const point of datapoints) byId.set(point.id, point);
  return [...byId.values()];
}

function list(value: unknown): string[] {
  const v = value as { toArray?: () => unknown[] } | unknown[] | null;
  return (Array.isArray(v) ? v : (v?.toArray?.() ?? [])).map(String);
}

function toStored(row: Record<string, unknown>): StoredRestricts {
  const numericRestricts: NumericRestricts = {};
  for (const ns of NUMERIC_NAMESPACES) {
    const value = row[NUMERIC_COLUMNS[ns]];
    if (value !== null && value !== undefined) numericRestricts[ns] = Number(value);
  }
  return {
    restricts: { documentIds: list(row[TOKEN_COLUMNS.documentIds]), tags: list(row[TOKEN_COLUMNS.tags]), contentTypes: list(row[TOKEN_COLUMNS.contentTypes]) },
    numericRestricts,
  };
}

const SQL_OPS = { LESS: "<", LESS_EQUAL: "<=", EQUAL: "=", GREATER_EQUAL: ">=", GREATER: ">", NOT_EQUAL: "<>" } as const;

/**
 * SQL predicate for LanceDB (DataFusion). Tokens are always quoted literals and
 * numbers finite numerals, never spliced raw. A NULL numeric column fails every
 * comparison, as a datapoint without the namespace should.
 */
export function toPredicate(filter: IndexFilter): string | undefined {
  const clauses: string[] = [];
  for (const ns of NAMESPACES) {
    const { allow, deny } = filter.restricts?.[ns] ?? {};
    const column = TOKEN_COLUMNS[ns];
    if (allow?.length) clauses.push(`array_has_any(${column}, [${allow.map(sqlString).join(", ")}])`);
    if (deny?.length) clauses.push(`NOT array_has_any(${column}, [${deny.map(sqlString).join(", ")}])`);
  }
  for (const { namespace, op, value } of filter.numeric ?? []) {
    if (!Number.isFinite(value)) throw new InvalidRequestError(`a numeric filter on ${namespace} needs a finite number; got ${value}`);
    clauses.push(`${NUMERIC_COLUMNS[namespace]} ${SQL_OPS[op]} ${value}`);
  }
  return clauses.length ? clauses.join(" AND ") : undefined;
}

function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
