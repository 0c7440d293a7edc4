import type { ObjectStore } from "../../core/object-store.js";
import { InvalidRequestError } from "../../core/errors.js";
import { formatFloat32 } from "../embedding-cache/shards.js";
import { NAMESPACES, NUMERIC_NAMESPACES, sparseProblem, type Datapoint } from "./vector-index.js";

/**
 * A Vertex AI Vector Search batch directory (updateIndex contentsDeltaUri),
 * in the layout https://cloud.google.com/vertex-ai/docs/vector-search/setup/format-structure
 * documents:
 *
 * - data files directly in the directory, JSON Lines with a `.json` suffix,
 *   at most 5,000 of them: `data-00000.json`, `data-00001.json`, …;
 * - removals in `delete/`, one id a line (`delete/ids-00000.txt`, …);
 * - one record a line: `{"id","embedding","sparse_embedding","restricts","numeric_restricts"}`,
 *   restricts as `{namespace, allow}` (files say allow/deny where the API says
 *   allow_list/deny_list), numeric restricts as `{namespace, value_double}`
 *   (the kind the adapter streams and queries with: Vertex compares a query
 *   only with values of its own kind);
 * - an id once per batch, never both written and deleted.
 *
 * Floats are written with 9 significant digits, as the embedding cache writes
 * them (every float32 exactly).
 */
export const MAX_DATA_FILES = 5_000;

/** One record of a data file, without the newline. Pure. */
export function batchRecord(datapoint: Datapoint): string {
  const embedding = Array.from(datapoint.vector, (x, i) => {
    if (!Number.isFinite(x)) throw new RangeError(`the vector of ${datapoint.id} holds ${x} at ${i}; a batch file holds finite numbers only`);
    return formatFloat32(x);
  });
  const parts = [`"id":${JSON.stringify(datapoint.id)}`, `"embedding":[${embedding.join(",")}]`];
  if (datapoint.sparse) {
    const problem = sparseProblem(datapoint.sparse);
    if (problem) throw new InvalidRequestError(`datapoint ${datapoint.id} has a sparse vector Vertex cannot hold: ${problem}`);
    parts.push(`"sparse_embedding":{"values":[${Array.from(datapoint.sparse.values, formatFloat32).join(",")}],"dimensions":[${Array.from(datapoint.sparse.dimensions).join(",")}]}`);
  }
  const restricts = NAMESPACES.filter((ns) => datapoint.restricts[ns].length > 0).map((namespace) => ({ namespace, allow: datapoint.restricts[namespace] }));
  const numeric = NUMERIC_NAMESPACES.flatMap((namespace) => {
    const value = datapoint.numericRestricts[namespace];
    return value === undefined ? [] : [{ namespace, value_double: value }];
  });
  parts.push(`"restricts":${JSON.stringify(restricts)}`, `"numeric_restricts":${JSON.stringify(numeric)}`);
  return `{${parts.join(",")}}`;
}

/** Records per data file so that `total` records fit in at most 5,000 files, never fewer than `wanted`. Pure. */
export function recordsPerFile(total: number, wanted: number): number {
  return Math.max(wanted, Math.ceil(total / MAX_DATA_FILES), 1);
}

export interface BatchDirectoryWriter {
  /** Adds datapoints to the data files (a file is written each time one fills). */
  add(datapoints: readonly Datapoint[]): Promise<void>;
  /** Ids the batch removes (delete/). */
  remove(ids: readonly string[]): Promise<void>;
  /** Writes what is left; returns what the directory holds. */
  finish(): Promise<BatchDirectorySummary>;
}

export interface BatchDirectorySummary {
  dataFiles: number;
  records: number;
  deleteFiles: number;
  deletes: number;
  bytes: number;
}

/**
 * Writes a batch directory under `prefix` (a key prefix ending in '/') of
 * `store`, the object store of the staging bucket. An id given twice, or
 * both added and removed, is refused as Vertex would refuse the batch.
 */
export function batchDirectoryWriter(store: ObjectStore, prefix: string, options: { recordsPerFile: number; idsPerDeleteFile?: number }): BatchDirectoryWriter {
  const seen = new Set<string>();
  const removed = new Set<string>();
  const summary: BatchDirectorySummary = { dataFiles: 0, records: 0, deleteFiles: 0, deletes: 0, bytes: 0 };
  let lines: string[] = [];
  let deletes: string[] = [];
  const idsPerDeleteFile = options.idsPerDeleteFile ?? 100_000;
  const flushData = async () => {
    if (lines.length === 0) return;
    if (summary.dataFiles >= MAX_DATA_FILES) throw new InvalidRequestError(`a Vertex batch directory holds at most ${MAX_DATA_FILES} data files; raise the records per file`);
    const body = Buffer.from(`${lines.join("\n")}\n`, "utf8");
    await store.put(`${prefix}data-${String(summary.dataFiles).padStart(5, "0")}.json`, body);
    summary.dataFiles += 1;
    summary.records += lines.length;
    summary.bytes += body.length;
    lines = [];
  };
  const flushDeletes = async () => {
    if (deletes.length === 0) return;
    const body = Buffer.from(`${deletes.join("\n")}\n`, "utf8");
    await store.put(`${prefix}delete/ids-${String(summary.deleteFiles).padStart(5, "0")}.txt`, body);
    summary.deleteFiles += 1;
    summary.deletes += deletes.length;
    summary.bytes += body.length;
    deletes = [];
  };
  return {
    add: async (datapoints) => {
      for (const datapoint of datapoints) {
        if (seen.has(datapoint.id) || removed.has(datapoint.id)) throw new InvalidRequestError(`datapoint ${datapoint.id} is given twice in one Vertex batch; each id may appear once`);
        seen.add(datapoint.id);
        lines.push(batchRecord(datapoint));
        if (lines.length >= options.recordsPerFile) await flushData();
      }
    },
    remove: async (ids) => {
      for (const id of ids) {
        if (seen.has(id) || removed.has(id)) throw new InvalidRequestError(`datapoint ${id} is given twice in one Vertex batch (written or removed); each id may appear once`);
        removed.add(id);
        deletes.push(id);
        if (deletes.length >= idsPerDeleteFile) await flushDeletes();
      }
    },
    finish: async () => {
      await flushData();
      await flushDeletes();
      return { ...summary };
    },
  };
}
