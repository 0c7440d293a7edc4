import { grpc } from "google-gax";
import { EmulatorError } from "./emulator-error.js";
import type { StoredDatapoint } from "./datapoints.js";
import type { Operations } from "./operations.js";
import { fromWireValue, type WireValue } from "./values.js";

/**
 * What the Vector Search services share: indexes with their datapoints,
 * index endpoints with their deployed indexes, and the long-running
 * operations that change them.
 */
export type DistanceMeasure = "SQUARED_L2_DISTANCE" | "L1_DISTANCE" | "COSINE_DISTANCE" | "DOT_PRODUCT_DISTANCE";

export interface IndexConfig {
  dimensions: number;
  distance: DistanceMeasure;
  /** featureNormType UNIT_L2_NORM: vectors (datapoints and queries) are scaled to unit length. */
  unitNorm: boolean;
}

export interface EmulatedIndex {
  name: string;
  displayName: string;
  description: string;
  labels: Record<string, string>;
  /** Index.metadata as given (a Value), returned as it was. */
  metadata: WireValue;
  config: IndexConfig;
  updateMethod: "BATCH_UPDATE" | "STREAM_UPDATE";
  datapoints: Map<string, StoredDatapoint>;
  createTime: Date;
  updateTime: Date;
}

export interface DeployedIndexState {
  id: string;
  index: string;
  displayName: string;
  createTime: Date;
}

export interface EmulatedEndpoint {
  name: string;
  displayName: string;
  publicEndpointDomainName: string;
  deployed: Map<string, DeployedIndexState>;
  createTime: Date;
  updateTime: Date;
}

/** What the batch import reads from: the GCS emulator's objects (src/dev/gcs-emulator.ts). */
export interface GcsObjects {
  objects(bucket: string, prefix: string): Array<{ name: string; body: Buffer }>;
}

export interface VectorSearchState {
  indexes: Map<string, EmulatedIndex>;
  endpoints: Map<string, EmulatedEndpoint>;
  operations: Operations;
  gcs: GcsObjects | undefined;
  /** A numeric resource id, as Vertex gives them. */
  nextId(): string;
}

export function createVectorSearchState(operations: Operations, gcs: GcsObjects | undefined): VectorSearchState {
  let id = 1_000_000_000;
  return { indexes: new Map(), endpoints: new Map(), operations, gcs, nextId: () => String((id += 1)) };
}

const LOCATION = /^projects\/[^/]+\/locations\/[^/]+$/;

export function checkParent(parent: string): void {
  if (!LOCATION.test(parent)) throw new EmulatorError(grpc.status.INVALID_ARGUMENT, `parent must be projects/<project>/locations/<location>; got "${parent}".`);
}

export function findIndex(state: VectorSearchState, name: string): EmulatedIndex {
  const index = state.indexes.get(name);
  if (!index) throw new EmulatorError(grpc.status.NOT_FOUND, `Index \`${name}\` is not found.`);
  return index;
}

export function findEndpoint(state: VectorSearchState, name: string): EmulatedEndpoint {
  const endpoint = state.endpoints.get(name);
  if (!endpoint) throw new EmulatorError(grpc.status.NOT_FOUND, `IndexEndpoint \`${name}\` is not found.`);
  return endpoint;
}

const DISTANCES = new Set<DistanceMeasure>(["SQUARED_L2_DISTANCE", "L1_DISTANCE", "COSINE_DISTANCE", "DOT_PRODUCT_DISTANCE"]);

/** Index.metadata.config, checked as createIndex checks it (https://cloud.google.com/vertex-ai/docs/vector-search/configuring-indexes). */
export function readIndexConfig(metadata: WireValue | null | undefined): { config: IndexConfig; contentsDeltaUri: string | undefined; isCompleteOverwrite: boolean } {
  const invalid = (message: string) => new EmulatorError(grpc.status.INVALID_ARGUMENT, message);
  const fields = fromWireValue(metadata);
  if (!isObject(fields) || !isObject(fields.config)) throw invalid("Index.metadata.config is required.");
  const config = fields.config;
  const dimensions = config.dimensions;
  if (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1) throw invalid(`Index.metadata.config.dimensions must be a positive integer; got ${JSON.stringify(dimensions)}.`);
  const distance = (config.distanceMeasureType ?? "DOT_PRODUCT_DISTANCE") as DistanceMeasure;
  if (!DISTANCES.has(distance)) throw invalid(`Unknown distanceMeasureType ${JSON.stringify(config.distanceMeasureType)}.`);
  const norm = config.featureNormType ?? "NONE";
  if (norm !== "NONE" && norm !== "UNIT_L2_NORM") throw invalid(`Unknown featureNormType ${JSON.stringify(norm)}.`);
  const algorithm = config.algorithmConfig;
  if (!isObject(algorithm) || (!isObject(algorithm.treeAhConfig) && !isObject(algorithm.bruteForceConfig))) throw invalid("Index.metadata.config.algorithmConfig needs treeAhConfig or bruteForceConfig.");
  if (isObject(algorithm.treeAhConfig) && !(typeof config.approximateNeighborsCount === "number" && config.approximateNeighborsCount > 0)) {
    throw invalid("Index.metadata.config.approximateNeighborsCount is required for a tree-AH index.");
  }
  const uri = fields.contentsDeltaUri;
  if (uri !== undefined && typeof uri !== "string") throw invalid("contentsDeltaUri must be a string.");
  return { config: { dimensions, distance, unitNorm: norm === "UNIT_L2_NORM" }, contentsDeltaUri: uri || undefined, isCompleteOverwrite: fields.isCompleteOverwrite === true };
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
