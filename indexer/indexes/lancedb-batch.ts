import { createRequire } from "node:module";
import type * as Arrow from "apache-arrow";
import { UnavailableError } from "../../core/errors.js";
import { NAMESPACES, NUMERIC_NAMESPACES, type Datapoint } from "./vector-index.js";

/**
 * Datapoints as one Arrow table for a LanceDB write, built from typed arrays:
 * the vectors as one Float32Array, each sparse column as one offsets array and
 * one values array. Handing LanceDB plain row objects instead makes it build
 * every list element by element: a 33,000-row write of 384-dimension vectors
 * took 17.9 s from rows and 12.4 s from this, with sparse vectors 24.6 s and
 * 13.6 s (a busy 2-core machine).
 *
 * The table is made with the CommonJS build of apache-arrow, the one LanceDB's
 * own CommonJS build uses: a table of the ES module build is not an instance
 * of its classes, goes through its sanitizer, and comes out with list columns
 * that have lost their children.
 */
export function loadArrow(): typeof Arrow {
  return createRequire(import.meta.url)("apache-arrow") as typeof Arrow;
}

/** Column names of the table, by what they hold. */
export interface BatchColumns {
  tokens: Record<(typeof NAMESPACES)[number], string>;
  numeric: Record<(typeof NUMERIC_NAMESPACES)[number], string>;
  sparseDims: string;
  sparseValues: string;
  /** The sparse dimensions as text, for the full-text index. */
  sparseTerms: string;
}

/** The datapoints as a table of `schema` (the LanceDB table's own, so types and nullability match it). */
export function datapointTable(arrow: typeof Arrow, schema: Arrow.Schema, columns: BatchColumns, points: readonly Datapoint[]): Arrow.Table {
  const n = points.length;
  const tokenNs = new Map(NAMESPACES.map((ns) => [columns.tokens[ns], ns]));
  const numericNs = new Map(NUMERIC_NAMESPACES.map((ns) => [columns.numeric[ns], ns]));
  const column = (field: Arrow.Field): Arrow.Data => {
    const { name, type } = field;
    if (name === "id") return arrow.vectorFromArray(points.map((p) => p.id), type).data[0] as Arrow.Data;
    if (name === "vector") return vectorData(arrow, type as Arrow.FixedSizeList, points);
    const ns = tokenNs.get(name);
    if (ns) return arrow.vectorFromArray(points.map((p) => p.restricts[ns]), type).data[0] as Arrow.Data;
    const numeric = numericNs.get(name);
    if (numeric) return arrow.vectorFromArray(points.map((p) => p.numericRestricts[numeric] ?? null), type).data[0] as Arrow.Data;
    if (name === columns.sparseDims) return numberLists(arrow, type as Arrow.List, n, (i) => points[i]?.sparse?.dimensions);
    if (name === columns.sparseValues) return numberLists(arrow, type as Arrow.List, n, (i) => points[i]?.sparse?.values);
    if (name === columns.sparseTerms) return arrow.vectorFromArray(points.map((p) => (p.sparse ? Array.from(p.sparse.dimensions).join(" ") : null)), type).data[0] as Arrow.Data;
    throw new UnavailableError(`LanceDB table column ${name} is not one ragops writes; the table was changed by hand or by a newer release`);
  };
  const data = arrow.makeData({ type: new arrow.Struct(schema.fields), length: n, nullCount: 0, children: schema.fields.map(column) });
  return new arrow.Table(schema, new arrow.RecordBatch(schema, data));
}

function vectorData(arrow: typeof Arrow, type: Arrow.FixedSizeList, points: readonly Datapoint[]): Arrow.Data {
  const dims = type.listSize;
  const flat = new Float32Array(points.length * dims);
  points.forEach((p, i) => flat.set(p.vector, i * dims));
  const child = arrow.makeData({ type: type.children[0]?.type as Arrow.Float32, length: flat.length, data: flat });
  return arrow.makeData({ type, length: points.length, nullCount: 0, child });
}

/** A nullable list column of numbers: null where `pick` gives nothing. */
function numberLists(arrow: typeof Arrow, type: Arrow.List, n: number, pick: (i: number) => ArrayLike<number> | undefined): Arrow.Data {
  const offsets = new Int32Array(n + 1);
  const valid = new Uint8Array(Math.ceil(n / 8));
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const values = pick(i);
    if (values) valid[i >> 3] = (valid[i >> 3] as number) | (1 << (i & 7));
    else nulls += 1;
    offsets[i + 1] = (offsets[i] as number) + (values?.length ?? 0);
  }
  const itemType = type.children[0]?.type as Arrow.Uint32 | Arrow.Float32;
  const flat = arrow.DataType.isInt(itemType) ? new Uint32Array(offsets[n] as number) : new Float32Array(offsets[n] as number);
  for (let i = 0; i < n; i++) {
    const values = pick(i);
    if (values) flat.set(values, offsets[i] as number);
  }
  const child = arrow.makeData({ type: itemType as Arrow.Uint32, length: flat.length, data: flat as Uint32Array });
  return arrow.makeData({ type, length: n, nullCount: nulls, nullBitmap: valid, valueOffsets: offsets, child });
}
