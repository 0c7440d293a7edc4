import type { Connection, Table } from "@lancedb/lancedb";
import { UnavailableError } from "../../core/errors.js";
import type { Datapoint, IndexFilter, Neighbor, Restricts, StoredDatapoint, VectorIndex } from "./vector-index.js";

/**
 * Embedded vector index on disk: one LanceDB table per index version.
 * Search is exact (flat) until an ANN index is built, which is right for the
 * corpus sizes the embedded default serves.
 */
/** Writes between compactions of the table's fragments. */
const COMPACT_EVERY_WRITES = 50;

export interface LanceDbIndexOptions {
  /** Directory holding the LanceDB database. */
  dir: string;
  /** Index version; the table is `chunks_<version>`. */
  version: string;
  dimensions: number;
}

type Row = {
  id: string;
  vector: number[];
  document_ids: string[];
  tags: string[];
  content_types: string[];
  payload: string;
};

export async function createLanceDbIndex(options: LanceDbIndexOptions): Promise<VectorIndex> {
  const lancedb = await import("@lancedb/lancedb");
  const arrow = await import("apache-arrow");
  // readConsistencyInterval 0: a server process sees the worker's writes on its next query.
  const db: Connection = await lancedb.connect(options.dir, { readConsistencyInterval: 0 });
  const tableName = `chunks_${options.version.replace(/-/g, "_")}`;
  const schema = new arrow.Schema([
    new arrow.Field("id", new arrow.Utf8(), false),
    new arrow.Field("vector", new arrow.FixedSizeList(options.dimensions, new arrow.Field("item", new arrow.Float32(), true)), false),
    new arrow.Field("document_ids", new arrow.List(new arrow.Field("item", new arrow.Utf8(), true)), false),
    new arrow.Field("tags", new arrow.List(new arrow.Field("item", new arrow.Utf8(), true)), false),
    new arrow.Field("content_types", new arrow.List(new arrow.Field("item", new arrow.Utf8(), true)), false),
    new arrow.Field("payload", new arrow.Utf8(), false),
  ]);
  let table: Table;
  try {
    table = (await db.tableNames()).includes(tableName)
      ? await db.openTable(tableName)
      : await db.createEmptyTable(tableName, schema, { mode: "create", existOk: true });
  } catch (error) {
    throw new UnavailableError(`cannot open LanceDB table ${tableName} in ${options.dir}: ${(error as Error).message}`, { cause: error });
  }
  const existingDims = await vectorDimensions(table);
  if (existingDims !== undefined && existingDims !== options.dimensions) {
    throw new UnavailableError(
      `LanceDB table ${tableName} holds ${existingDims}-dimensional vectors but the embedder gives ${options.dimensions}; build a new index version instead of reusing "${options.version}"`,
      { retryable: false },
    );
  }

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

  return {
    name: tableName,
    dimensions: options.dimensions,
    upsert: (datapoints) =>
      serialized(async () => {
        if (datapoints.length === 0) return;
        for (const point of datapoints) {
          if (point.vector.length !== options.dimensions) {
            throw new UnavailableError(`datapoint ${point.id} has ${point.vector.length} dimensions, index ${tableName} wants ${options.dimensions}`, { retryable: false });
          }
        }
        const rows: Row[] = dedupeById(datapoints).map(toRow);
        await table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows);
      }),
    updateMetadata: (updates) =>
      serialized(async () => {
        if (updates.length === 0) return;
        // An UPDATE cannot set an empty list in LanceDB; rewriting the rows (vector read back) can.
        const vectors = new Map<string, number[]>();
        for (let i = 0; i < updates.length; i += 500) {
          const rows = (await table
            .query()
            .where(`id IN (${updates.slice(i, i + 500).map((u) => sqlString(u.id)).join(", ")})`)
            .select(["id", "vector"])
            .toArray()) as Array<{ id: string; vector: ArrayLike<number> }>;
          for (const row of rows) vectors.set(String(row.id), Array.from(row.vector));
        }
        const rows = updates.filter((u) => vectors.has(u.id)).map((u) => toRow({ ...u, vector: vectors.get(u.id) as number[] }));
        if (rows.length) await table.mergeInsert("id").whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(rows);
      }),
    fetch: async (ids) => {
      const found = new Map<string, StoredDatapoint>();
      for (let i = 0; i < ids.length; i += 500) {
        const rows = (await table
          .query()
          .where(`id IN (${ids.slice(i, i + 500).map(sqlString).join(", ")})`)
          .select(["id", "document_ids", "tags", "content_types", "payload"])
          .toArray()) as Array<Record<string, unknown>>;
        for (const row of rows) {
          const { restricts, payload } = toNeighbor({ ...row, _distance: 0 });
          found.set(String(row.id), { restricts, payload });
        }
      }
      return found;
    },
    listIds: async () => ((await table.query().select(["id"]).toArray()) as Array<{ id: string }>).map((row) => String(row.id)),
    remove: (ids) =>
      serialized(async () => {
        for (let i = 0; i < ids.length; i += 500) {
          await table.delete(`id IN (${ids.slice(i, i + 500).map(sqlString).join(", ")})`);
        }
      }),
    removeWhere: (filter) =>
      serialized(async () => {
        const predicate = toPredicate(filter);
        if (!predicate) throw new Error("removeWhere needs a non-empty filter");
        const before = await table.countRows(predicate);
        if (before > 0) await table.delete(predicate);
        return before;
      }),
    query: async (vector, { k, filter }) => {
      let search = table.vectorSearch(Array.from(vector)).distanceType("cosine").limit(k);
      const predicate = filter ? toPredicate(filter) : undefined;
      if (predicate) search = search.where(predicate);
      const rows = (await search.toArray()) as Array<Record<string, unknown>>;
      return rows.map(toNeighbor);
    },
    count: (filter) => table.countRows(filter ? toPredicate(filter) : undefined),
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
  return {
    id: point.id,
    vector: Array.from(point.vector),
    document_ids: point.restricts.documentIds,
    tags: point.restricts.tags,
    content_types: point.restricts.contentTypes,
    payload: JSON.stringify(point.payload),
  };
}

function list(value: unknown): string[] {
  const v = value as { toArray?: () => unknown[] } | unknown[] | null;
  return (Array.isArray(v) ? v : (v?.toArray?.() ?? [])).map(String);
}

function toNeighbor(row: Record<string, unknown>): Neighbor {
  const restricts: Restricts = { documentIds: list(row.document_ids), tags: list(row.tags), contentTypes: list(row.content_types) };
  const distance = Number(row._distance);
  return { id: String(row.id), score: 1 - distance, restricts, payload: JSON.parse(String(row.payload)) as Record<string, unknown> };
}

/** SQL predicate for LanceDB (DataFusion). Values are always quoted literals, never spliced raw. */
export function toPredicate(filter: IndexFilter): string | undefined {
  const clauses: string[] = [];
  if (filter.documentIds?.length) clauses.push(`array_has_any(document_ids, [${filter.documentIds.map(sqlString).join(", ")}])`);
  if (filter.contentTypes?.length) clauses.push(`array_has_any(content_types, [${filter.contentTypes.map(sqlString).join(", ")}])`);
  if (filter.tags?.length) clauses.push(`array_has_any(tags, [${filter.tags.map(sqlString).join(", ")}])`);
  return clauses.length ? clauses.join(" AND ") : undefined;
}

function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
