import { grpc } from "google-gax";
import { EmulatorError } from "./emulator-error.js";
import { datapointFromLine, RecordError, type RecordErrorType, type StoredDatapoint } from "./datapoints.js";
import type { EmulatedIndex, GcsObjects } from "./vector-search-state.js";

/**
 * A batch update from a GCS directory (Index.metadata.contentsDeltaUri), read
 * and checked as https://cloud.google.com/vertex-ai/docs/vector-search/setup/format-structure
 * describes it:
 * - data files sit directly in the directory, with a .json suffix (JSON Lines;
 *   .csv and .avro are Vertex formats the emulator does not read), at most 5,000;
 * - an optional delete/ sub-directory holds files of ids, one a line; no other
 *   sub-directory is allowed;
 * - an id appears once per batch, and not both among the data and in delete/.
 * A broken layout fails the whole update. A bad line is a record error, counted
 * per file in contentValidationStats (at most 50 errors a file), and skipped:
 * the valid lines are applied.
 */
export const MAX_DATA_FILES = 5_000;
const MAX_ERRORS_PER_FILE = 50;

export interface ContentValidationStats {
  sourceGcsUri: string;
  validRecordCount: string;
  invalidRecordCount: string;
  partialErrors: Array<{ errorType: RecordErrorType; errorMessage: string; sourceGcsUri: string; embeddingId: string; rawRecord: string }>;
}

export interface BatchContents {
  upserts: StoredDatapoint[];
  deletes: string[];
  stats: ContentValidationStats[];
  bytes: number;
}

export function readBatchDirectory(gcs: GcsObjects | undefined, uri: string, index: EmulatedIndex): BatchContents {
  const invalid = (message: string) => new EmulatorError(grpc.status.INVALID_ARGUMENT, message);
  if (!gcs) throw new EmulatorError(grpc.status.FAILED_PRECONDITION, "This emulator was started without a GCS emulator: it cannot read contentsDeltaUri.");
  const match = /^gs:\/\/([^/]+)\/(.*)$/.exec(uri);
  if (!match) throw invalid(`contentsDeltaUri must be gs://<bucket>/<directory>; got "${uri}".`);
  const bucket = match[1] as string;
  const prefix = (match[2] as string).replace(/\/?$/, "/").replace(/^\/$/, "");
  const objects = gcs.objects(bucket, prefix);
  if (objects.length === 0) throw invalid(`No files found in ${uri}.`);

  const dataFiles: Array<{ name: string; body: Buffer }> = [];
  const deleteFiles: Array<{ name: string; body: Buffer }> = [];
  for (const object of objects) {
    const relative = object.name.slice(prefix.length);
    if (relative.startsWith("delete/") && !relative.slice("delete/".length).includes("/")) {
      if (relative !== "delete/") deleteFiles.push(object);
    } else if (relative.includes("/")) {
      throw invalid(`${uri} holds a sub-directory other than delete/: gs://${bucket}/${object.name}.`);
    } else if (/\.(csv|avro)$/.test(relative)) {
      throw invalid(`gs://${bucket}/${object.name}: the emulator reads JSON data files only.`);
    } else if (!relative.endsWith(".json")) {
      throw invalid(`gs://${bucket}/${object.name} is not a data file: data files end in .json, .csv or .avro.`);
    } else dataFiles.push(object);
  }
  if (dataFiles.length > MAX_DATA_FILES) throw invalid(`${uri} holds ${dataFiles.length} data files; at most ${MAX_DATA_FILES} are allowed.`);

  const upserts = new Map<string, StoredDatapoint>();
  const stats: ContentValidationStats[] = [];
  let bytes = 0;
  for (const file of dataFiles) {
    const source = `gs://${bucket}/${file.name}`;
    const fileStats: ContentValidationStats = { sourceGcsUri: source, validRecordCount: "0", invalidRecordCount: "0", partialErrors: [] };
    let valid = 0;
    let invalidCount = 0;
    bytes += file.body.length;
    const lines = file.body.toString("utf8").split("\n");
    if (lines.at(-1) === "") lines.pop();
    for (const line of lines) {
      try {
        const datapoint = datapointFromLine(line, { dimensions: index.config.dimensions });
        if (upserts.has(datapoint.id)) throw invalid(`Datapoint id ${datapoint.id} appears more than once in ${uri}; each id may appear once per batch.`);
        upserts.set(datapoint.id, datapoint);
        valid += 1;
      } catch (error) {
        if (!(error instanceof RecordError)) throw error;
        invalidCount += 1;
        if (fileStats.partialErrors.length < MAX_ERRORS_PER_FILE) {
          fileStats.partialErrors.push({ errorType: error.type, errorMessage: error.message, sourceGcsUri: source, embeddingId: idOf(line), rawRecord: line.slice(0, 1_000) });
        }
      }
    }
    stats.push({ ...fileStats, validRecordCount: String(valid), invalidRecordCount: String(invalidCount) });
  }

  const deletes = new Set<string>();
  for (const file of deleteFiles) {
    bytes += file.body.length;
    for (const id of file.body.toString("utf8").split("\n").map((line) => line.trim())) {
      if (!id) continue;
      if (deletes.has(id)) throw invalid(`Datapoint id ${id} appears more than once in ${uri}delete/; each id may appear once per batch.`);
      if (upserts.has(id)) throw invalid(`Datapoint id ${id} is both in a data file and in delete/ of ${uri}.`);
      deletes.add(id);
    }
  }
  return { upserts: [...upserts.values()], deletes: [...deletes], stats, bytes };
}

function idOf(line: string): string {
  try {
    const parsed = JSON.parse(line) as { id?: unknown };
    return typeof parsed.id === "string" ? parsed.id : "";
  } catch {
    return "";
  }
}
