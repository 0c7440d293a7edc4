import type { Connection, Table } from "@lancedb/lancedb";
import { UnavailableError } from "../../src/errors.js";
import type { Datapoint, IndexFilter, Neighbor, Restricts, VectorIndex } from "./vector-index.js";

/**
 * Embedded vector index on disk: one LanceDB table per index version.
 * Search is exact (flat) until an ANN index is built, which is right for the
 * corpus sizes the embedded default serves.
 */
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
  document_id: string;
  tags: string[];
  content_type: string;
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
    new arrow.Field("document_id", new arrow.Utf8(), false),
    new arrow.Field("tags", new arrow.List(new arrow.Field("item", new arrow.Utf8(), true)), false),
    new arrow.Field("content_type", new arrow.Utf8(), false),
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
  const serialized = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = writes.then(fn, fn);
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
    document_id: point.restricts.documentId,
    tags: point.restricts.tags,
    content_type: point.restricts.contentType,
    payload: JSON.stringify(point.payload),
  };
}

function toNeighbor(row: Record<string, unknown>): Neighbor {
  const tags = row.tags as { toArray?: () => unknown[] } | string[] | null;
  const restricts: Restricts = {
    documentId: String(row.document_id),
    tags: (Array.isArray(tags) ? tags : (tags?.toArray?.() ?? [])).map(String),
    contentType: String(row.content_type),
  };
  const distance = Number(row._distance);
  return { id: String(row.id), score: 1 - distance, restricts, payload: JSON.parse(String(row.payload)) as Record<string, unknown> };
}

/** SQL predicate for LanceDB (DataFusion). Values are always quoted literals, never spliced raw. */
export function toPredicate(filter: IndexFilter): string | undefined {
  const clauses: string[] = [];
  if (filter.documentIds?.length) clauses.push(`document_id IN (${filter.documentIds.map(sqlString).join(", ")})`);
  if (filter.contentTypes?.length) clauses.push(`content_type IN (${filter.contentTypes.map(sqlString).join(", ")})`);
  if (filter.tags?.length) clauses.push(`array_has_any(tags, [${filter.tags.map(sqlString).join(", ")}])`);
  return clauses.length ? clauses.join(" AND ") : undefined;
}

function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}
