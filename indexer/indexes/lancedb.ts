import type { Connection, Table } from "@lancedb/lancedb";
import { InvalidRequestError, UnavailableError } from "../../core/errors.js";
import {
  DimensionMismatchError,
  NAMESPACES,
  NUMERIC_NAMESPACES,
  type Datapoint,
  type IndexFilter,
  type Namespace,
  type NumericNamespace,
  type NumericRestricts,
  type StoredRestricts,
  type VectorIndex,
} from "./vector-index.js";

/**
 * Embedded vector index on disk: one LanceDB table per index version, one
 * list column per restrict namespace and one nullable column per numeric one.
 * Search is exact (flat) until an ANN index is built, which is right for the
 * corpus sizes the embedded default serves.
 */
/** Writes between compactions of the table's fragments. */
const COMPACT_EVERY_WRITES = 50;

const TOKEN_COLUMNS: Record<Namespace, string> = { documentIds: "document_ids", tags: "tags", contentTypes: "content_types" };
const NUMERIC_COLUMNS: Record<NumericNamespace, string> = { date: "num_date" };
/** Rows per `id IN (...)` predicate. */
const IDS_PER_QUERY = 500;

export interface LanceDbIndexOptions {
  /** Directory holding the LanceDB database. */
  dir: string;
  /** Index version; the table is `chunks_<version>`. */
  version: string;
  dimensions: number;
}

/** The port, plus what only an embedded index does cheaply: list every id (tests, benchmarks, repairs). */
export interface LanceDbIndex extends VectorIndex {
  listIds(): Promise<string[]>;
}

type Row = Record<string, string | number[] | string[] | number | null>;

export async function createLanceDbIndex(options: LanceDbIndexOptions): Promise<LanceDbIndex> {
  const lancedb = await import("@lancedb/lancedb");
  const arrow = await import("apache-arrow");
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
  ]);
  let table: Table;
  try {
    table = (await db.tableNames()).includes(tableName)
      ? await db.openTable(tableName)
      : await db.createEmptyTable(tableName, schema, { mode: "create", existOk: true });
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
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = writes.then(fn, fn).then(async (value) => {
      // Every write adds a fragment that queries must scan; compact now and then.
      if ((sinceCompaction += 1) >= COMPACT_EVERY_WRITES) {
        sinceCompaction = 0;
        await table.optimize({ cleanupOlderThan: new Date(Date.now() - 60_000) }).catch(() => undefined);
      }
      return value;
    });
    writes = run.catch(() => undefined);
    return run;
  };
  const merge = (rows: Row[]) => table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows);
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

  return {
    name: tableName,
    dimensions: options.dimensions,
    upsert: (datapoints) =>
      serialized(async () => {
        if (datapoints.length === 0) return;
        for (const point of datapoints) checkDimensions(point.vector, `datapoint ${point.id}`);
        await merge(dedupeById(datapoints).map(toRow));
      }),
    updateRestricts: (updates) =>
      serialized(async () => {
        if (updates.length === 0) return;
        // An UPDATE cannot set an empty list in LanceDB; rewriting the rows (vector read back) can.
        const vectors = new Map((await rowsOf(updates.map((u) => u.id), ["id", "vector"])).map((row) => [String(row.id), Array.from(row.vector as ArrayLike<number>)]));
        const rows = updates.filter((u) => vectors.has(u.id)).map((u) => toRow({ ...u, vector: vectors.get(u.id) as number[] }));
        if (rows.length) await merge(rows);
      }),
    fetch: async (ids) => new Map((await rowsOf(ids, restrictColumns)).map((row) => [String(row.id), toStored(row)])),
    listIds: async () => ((await table.query().select(["id"]).toArray()) as Array<{ id: string }>).map((row) => String(row.id)),
    remove: (ids) =>
      serialized(async () => {
        for (let i = 0; i < ids.length; i += IDS_PER_QUERY) {
          await table.delete(`id IN (${ids.slice(i, i + IDS_PER_QUERY).map(sqlString).join(", ")})`);
        }
      }),
    query: async (vector, { k, filter }) => {
      checkDimensions(vector, "the query vector");
      let search = table.vectorSearch(Array.from(vector)).distanceType("cosine").select(["id", "_distance"]).limit(k);
      const predicate = filter ? toPredicate(filter) : undefined;
      if (predicate) search = search.where(predicate);
      const rows = (await search.toArray()) as Array<{ id: string; _distance: number }>;
      return rows.map((row) => ({ id: String(row.id), score: 1 - Number(row._distance) }));
    },
    count: () => table.countRows(),
    close: async () => {
      await writes;
      table.close();
      db.close();
    },
    destroy: async () => {
      await writes;
      table.close();
      await db.dropTable(tableName);
      db.close();
    },
  };
}

/** Tables written before the index held no payload: drop the payload, add the numeric columns (null: unknown). */
async function migrate(table: Table): Promise<void> {
  const names = new Set((await table.schema()).fields.map((f) => f.name));
  if (names.has("payload")) await table.dropColumns(["payload"]);
  const missing = NUMERIC_NAMESPACES.map((ns) => NUMERIC_COLUMNS[ns]).filter((name) => !names.has(name));
  if (missing.length) await table.addColumns(missing.map((name) => ({ name, valueSql: "CAST(NULL AS DOUBLE)" })));
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

function toRow(point: Datapoint): Row {
  const row: Row = { id: point.id, vector: Array.from(point.vector) };
  for (const ns of NAMESPACES) row[TOKEN_COLUMNS[ns]] = point.restricts[ns];
  for (const ns of NUMERIC_NAMESPACES) row[NUMERIC_COLUMNS[ns]] = point.numericRestricts[ns] ?? null;
  return row;
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
