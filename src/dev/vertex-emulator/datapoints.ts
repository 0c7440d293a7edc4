/**
 * Vector Search datapoints as the emulator keeps them, read from the API's
 * IndexDatapoint or from a batch file's JSON line, with the checks Vertex
 * documents, each named by its NearestNeighborSearchOperationMetadata
 * RecordErrorType (index_service.proto), so a refused upsert and a refused
 * batch line say the same thing.
 */
export type RecordErrorType =
  | "EMPTY_LINE"
  | "INVALID_JSON_SYNTAX"
  | "INVALID_EMBEDDING_ID"
  | "EMBEDDING_SIZE_MISMATCH"
  | "NAMESPACE_MISSING"
  | "PARSING_ERROR"
  | "DUPLICATE_NAMESPACE"
  | "OP_IN_DATAPOINT"
  | "MULTIPLE_VALUES"
  | "INVALID_NUMERIC_VALUE"
  | "INVALID_SPARSE_DIMENSIONS"
  | "INVALID_TOKEN_VALUE"
  | "INVALID_SPARSE_EMBEDDING"
  | "INVALID_EMBEDDING";

export class RecordError extends Error {
  constructor(
    readonly type: RecordErrorType,
    message: string,
  ) {
    super(message);
  }
}

export type NumericKind = "valueInt" | "valueFloat" | "valueDouble";

export interface StoredDatapoint {
  id: string;
  vector: number[];
  sparse?: { dimensions: number[]; values: number[] };
  restricts: Map<string, { allow: string[]; deny: string[] }>;
  numeric: Map<string, { kind: NumericKind; value: number }>;
  crowdingTag?: string;
}

/** What the index's config.dimensions asks of a datapoint. */
export interface DatapointRules {
  dimensions: number;
}

/** IndexDatapoint as @grpc/proto-loader decodes it (defaults on: absent lists are [], absent messages null). */
export interface WireDatapoint {
  datapointId: string;
  featureVector: number[];
  sparseEmbedding?: { values: number[]; dimensions: string[] } | null;
  restricts: Array<{ namespace: string; allowList: string[]; denyList: string[] }>;
  numericRestricts: WireNumericRestrict[];
  crowdingTag?: { crowdingAttribute: string } | null;
}

export interface WireNumericRestrict {
  namespace: string;
  valueInt?: string;
  valueFloat?: number;
  valueDouble?: number;
  op: string;
  /** The oneof's case (proto-loader `oneofs: true`). */
  Value?: NumericKind;
}



/** A datapoint of an upsertDatapoints request; a RecordError when Vertex would refuse it. */
export function datapointFromApi(wire: WireDatapoint, rules: DatapointRules): StoredDatapoint {
  if (!wire.datapointId) throw new RecordError("INVALID_EMBEDDING_ID", "datapoint_id is required.");
  const sparse = wire.sparseEmbedding && (wire.sparseEmbedding.values.length > 0 || wire.sparseEmbedding.dimensions.length > 0) ? checkSparse(wire.sparseEmbedding.dimensions.map(Number), wire.sparseEmbedding.values) : undefined;
  const vector = checkVector(wire.featureVector, rules, sparse !== undefined);
  const restricts = checkRestricts(wire.restricts.map((r) => ({ namespace: r.namespace, allow: r.allowList, deny: r.denyList })));
  const numeric = new Map<string, { kind: NumericKind; value: number }>();
  for (const restrict of wire.numericRestricts) {
    if (!restrict.namespace) throw new RecordError("NAMESPACE_MISSING", "A numeric restrict has no namespace.");
    if (restrict.op && restrict.op !== "OPERATOR_UNSPECIFIED") throw new RecordError("OP_IN_DATAPOINT", `Numeric restrict ${restrict.namespace} of a datapoint has op ${restrict.op}; op belongs to queries.`);
    if (numeric.has(restrict.namespace)) throw new RecordError("DUPLICATE_NAMESPACE", `Numeric namespace ${restrict.namespace} is given twice.`);
    const kind = restrict.Value;
    if (!kind) throw new RecordError("INVALID_NUMERIC_VALUE", `Numeric restrict ${restrict.namespace} has no value.`);
    numeric.set(restrict.namespace, { kind, value: Number(restrict[kind]) });
  }
  return { id: wire.datapointId, vector, ...(sparse ? { sparse } : {}), restricts, numeric, ...(wire.crowdingTag?.crowdingAttribute ? { crowdingTag: wire.crowdingTag.crowdingAttribute } : {}) };
}

const LINE_FIELDS = new Set(["id", "embedding", "sparse_embedding", "restricts", "numeric_restricts", "crowding_tag", "embedding_metadata"]);
const NUMERIC_FIELDS: Record<string, NumericKind> = { value_int: "valueInt", value_float: "valueFloat", value_double: "valueDouble" };

/**
 * One line of a JSON batch file (https://cloud.google.com/vertex-ai/docs/vector-search/setup/format-structure):
 * restricts are {namespace, allow, deny}, numeric restricts {namespace, value_int | value_float | value_double}.
 */
export function datapointFromLine(line: string, rules: DatapointRules): StoredDatapoint {
  if (line.trim() === "") throw new RecordError("EMPTY_LINE", "Empty line.");
  let record: unknown;
  try {
    record = JSON.parse(line);
  } catch (error) {
    throw new RecordError("INVALID_JSON_SYNTAX", `Invalid JSON: ${(error as Error).message}`);
  }
  if (!isObject(record)) throw new RecordError("PARSING_ERROR", "A line must hold one JSON object.");
  const unknown = Object.keys(record).find((key) => !LINE_FIELDS.has(key));
  if (unknown) throw new RecordError("PARSING_ERROR", `Unknown field "${unknown}".`);
  if (typeof record.id !== "string" || record.id === "") throw new RecordError("INVALID_EMBEDDING_ID", "id must be a non-empty string.");
  let sparse: StoredDatapoint["sparse"];
  if (record.sparse_embedding !== undefined) {
    const given = record.sparse_embedding;
    if (!isObject(given) || !Array.isArray(given.values) || !Array.isArray(given.dimensions)) throw new RecordError("INVALID_SPARSE_EMBEDDING", "sparse_embedding needs values and dimensions lists.");
    sparse = checkSparse(given.dimensions as unknown[], given.values as unknown[]);
  }
  if (record.embedding !== undefined && !Array.isArray(record.embedding)) throw new RecordError("INVALID_EMBEDDING", "embedding must be a list of numbers.");
  const vector = checkVector((record.embedding as unknown[] | undefined) ?? [], rules, sparse !== undefined);
  const restricts = checkRestricts(
    listOf(record.restricts, "restricts").map((r) => {
      if (!isObject(r)) throw new RecordError("PARSING_ERROR", "A restrict must be an object.");
      const extra = Object.keys(r).find((key) => !["namespace", "allow", "deny"].includes(key));
      if (extra) throw new RecordError("PARSING_ERROR", `Unknown restrict field "${extra}" (batch files use allow and deny).`);
      return { namespace: r.namespace, allow: listOf(r.allow, "allow"), deny: listOf(r.deny, "deny") };
    }),
  );
  const numeric = new Map<string, { kind: NumericKind; value: number }>();
  for (const r of listOf(record.numeric_restricts, "numeric_restricts")) {
    if (!isObject(r)) throw new RecordError("PARSING_ERROR", "A numeric restrict must be an object.");
    if (typeof r.namespace !== "string" || r.namespace === "") throw new RecordError("NAMESPACE_MISSING", "A numeric restrict has no namespace.");
    if ("op" in r) throw new RecordError("OP_IN_DATAPOINT", `Numeric restrict ${r.namespace} of a datapoint has an op; op belongs to queries.`);
    const extra = Object.keys(r).find((key) => key !== "namespace" && !(key in NUMERIC_FIELDS));
    if (extra) throw new RecordError("PARSING_ERROR", `Unknown numeric restrict field "${extra}".`);
    const values = Object.keys(r).filter((key) => key in NUMERIC_FIELDS);
    if (values.length > 1) throw new RecordError("MULTIPLE_VALUES", `Numeric restrict ${r.namespace} has ${values.length} values; one is allowed.`);
    const field = values[0];
    const value = field === undefined ? undefined : r[field];
    if (field === undefined || typeof value !== "number" || !Number.isFinite(value) || (field === "value_int" && !Number.isInteger(value))) {
      throw new RecordError("INVALID_NUMERIC_VALUE", `Numeric restrict ${r.namespace} needs one finite ${field ?? "value_int, value_float or value_double"}.`);
    }
    if (numeric.has(r.namespace)) throw new RecordError("DUPLICATE_NAMESPACE", `Numeric namespace ${r.namespace} is given twice.`);
    numeric.set(r.namespace, { kind: NUMERIC_FIELDS[field] as NumericKind, value });
  }
  if (record.crowding_tag !== undefined && typeof record.crowding_tag !== "string") throw new RecordError("PARSING_ERROR", "crowding_tag must be a string.");
  return { id: record.id, vector, ...(sparse ? { sparse } : {}), restricts, numeric, ...(record.crowding_tag ? { crowdingTag: record.crowding_tag as string } : {}) };
}

/** IndexDatapoint as readIndexDatapoints and a full findNeighbors answer give it. */
export function datapointToWire(datapoint: StoredDatapoint): object {
  return {
    datapointId: datapoint.id,
    featureVector: datapoint.vector,
    ...(datapoint.sparse ? { sparseEmbedding: { values: datapoint.sparse.values, dimensions: datapoint.sparse.dimensions.map(String) } } : {}),
    restricts: [...datapoint.restricts].map(([namespace, r]) => ({ namespace, allowList: r.allow, denyList: r.deny })),
    numericRestricts: [...datapoint.numeric].map(([namespace, n]) => ({ namespace, [n.kind]: n.kind === "valueInt" ? String(n.value) : n.value })),
    ...(datapoint.crowdingTag ? { crowdingTag: { crowdingAttribute: datapoint.crowdingTag } } : {}),
  };
}

function checkVector(values: readonly unknown[], rules: DatapointRules, sparseOnly: boolean): number[] {
  if (values.length === 0 && sparseOnly) return [];
  if (values.some((x) => typeof x !== "number" || !Number.isFinite(x))) throw new RecordError("INVALID_EMBEDDING", "The embedding holds a value that is not a finite number.");
  if (values.length !== rules.dimensions) throw new RecordError("EMBEDDING_SIZE_MISMATCH", `Incorrect dimensionality. Expected ${rules.dimensions}, got ${values.length}.`);
  return values as number[];
}

function checkSparse(dimensions: readonly unknown[], values: readonly unknown[]): { dimensions: number[]; values: number[] } {
  if (dimensions.length !== values.length) throw new RecordError("INVALID_SPARSE_EMBEDDING", `The sparse embedding has ${dimensions.length} dimensions and ${values.length} values.`);
  if (dimensions.some((d) => typeof d !== "number" || !Number.isInteger(d) || d < 0)) throw new RecordError("INVALID_SPARSE_DIMENSIONS", "Sparse dimensions must be non-negative integers.");
  if (new Set(dimensions).size !== dimensions.length) throw new RecordError("INVALID_SPARSE_DIMENSIONS", "Sparse dimensions must be unique.");
  if (values.some((x) => typeof x !== "number" || !Number.isFinite(x))) throw new RecordError("INVALID_SPARSE_EMBEDDING", "Sparse values must be finite numbers.");
  return { dimensions: dimensions as number[], values: values as number[] };
}

function checkRestricts(restricts: ReadonlyArray<{ namespace: unknown; allow: unknown[]; deny: unknown[] }>): StoredDatapoint["restricts"] {
  const out: StoredDatapoint["restricts"] = new Map();
  for (const r of restricts) {
    if (typeof r.namespace !== "string" || r.namespace === "") throw new RecordError("NAMESPACE_MISSING", "A restrict has no namespace.");
    if (out.has(r.namespace)) throw new RecordError("DUPLICATE_NAMESPACE", `Namespace ${r.namespace} is given twice.`);
    if ([...r.allow, ...r.deny].some((token) => typeof token !== "string")) throw new RecordError("INVALID_TOKEN_VALUE", `Namespace ${r.namespace} holds a token that is not a string.`);
    out.set(r.namespace, { allow: r.allow as string[], deny: r.deny as string[] });
  }
  return out;
}

function listOf(value: unknown, field: string): unknown[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new RecordError("PARSING_ERROR", `${field} must be a list.`);
  return value;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}


