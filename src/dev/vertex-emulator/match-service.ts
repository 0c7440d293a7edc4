import { grpc } from "google-gax";
import { datapointToWire, type StoredDatapoint, type WireNumericRestrict } from "./datapoints.js";
import { EmulatorError } from "./emulator-error.js";
import type { EmulatedService } from "./grpc-server.js";
import { findEndpoint, findIndex, type EmulatedIndex, type IndexConfig, type VectorSearchState } from "./vector-search-state.js";

/**
 * google.cloud.aiplatform.v1.MatchService on a deployed index: findNeighbors
 * by exact (brute-force) search, and readIndexDatapoints (at most 1,000 ids a
 * call, as the proto says).
 *
 * Filters as https://cloud.google.com/vertex-ai/docs/vector-search/filtering
 * describes them: per query namespace, a datapoint matches when one of its
 * tokens is in the allow list (an empty allow list sets no condition), none is
 * in the deny list, and none of the query's allow tokens is in the
 * datapoint's own deny list; a datapoint without the namespace matches no
 * allow list. Namespaces AND. A numeric restrict compares the datapoint's
 * value of the namespace, which must be of the same kind (valueInt, valueFloat,
 * valueDouble); a datapoint without the namespace matches no comparison.
 *
 * Distances, per the index's distanceMeasureType: DOT_PRODUCT_DISTANCE answers
 * the dot product, highest first, as the service reports it (the proto calls it
 * "a negative of the dot product", but answers carry the similarity: to check
 * against a real endpoint); COSINE_DISTANCE 1 - cosine similarity,
 * SQUARED_L2_DISTANCE and L1_DISTANCE the distances, lowest first. With
 * featureNormType UNIT_L2_NORM both sides are scaled to unit length first.
 *
 * Dense queries only for now: a query with a sparse embedding or rrf is
 * refused (sparseQuery below is where hybrid search goes).
 */
const V1 = "google.cloud.aiplatform.v1";
export const MAX_READ_IDS = 1_000;
const DEFAULT_NEIGHBORS = 10;

interface WireQuery {
  datapoint: {
    datapointId: string;
    featureVector: number[];
    sparseEmbedding?: { values: number[]; dimensions: string[] } | null;
    restricts: Array<{ namespace: string; allowList: string[]; denyList: string[] }>;
    numericRestricts: WireNumericRestrict[];
  } | null;
  neighborCount: number;
  rrf?: { alpha: number } | null;
}

export function matchService(state: VectorSearchState): EmulatedService {
  const deployedIndex = (endpointName: string, deployedIndexId: string): EmulatedIndex => {
    const endpoint = findEndpoint(state, endpointName);
    const deployed = endpoint.deployed.get(deployedIndexId);
    if (!deployed) throw new EmulatorError(grpc.status.NOT_FOUND, `DeployedIndex ${deployedIndexId} is not found in IndexEndpoint \`${endpointName}\`.`);
    return findIndex(state, deployed.index);
  };

  const findNeighbors = async (request: { indexEndpoint: string; deployedIndexId: string; queries: WireQuery[]; returnFullDatapoint: boolean }) => {
    const index = deployedIndex(request.indexEndpoint, request.deployedIndexId);
    return {
      nearestNeighbors: request.queries.map((query, i) => {
        const datapoint = query.datapoint;
        if (!datapoint) throw new EmulatorError(grpc.status.INVALID_ARGUMENT, `queries[${i}].datapoint is required.`);
        if (query.rrf || (datapoint.sparseEmbedding && datapoint.sparseEmbedding.values.length > 0)) sparseQuery(i);
        if (datapoint.featureVector.length !== index.config.dimensions) {
          throw new EmulatorError(grpc.status.INVALID_ARGUMENT, `queries[${i}]: Incorrect dimensionality. Expected ${index.config.dimensions}, got ${datapoint.featureVector.length}.`);
        }
        const numeric = datapoint.numericRestricts.map((r, j) => {
          if (!r.op || r.op === "OPERATOR_UNSPECIFIED") throw new EmulatorError(grpc.status.INVALID_ARGUMENT, `queries[${i}].numeric_restricts[${j}] (${r.namespace}) needs an op.`);
          if (!r.Value) throw new EmulatorError(grpc.status.INVALID_ARGUMENT, `queries[${i}].numeric_restricts[${j}] (${r.namespace}) needs a value.`);
          return { namespace: r.namespace, op: r.op, kind: r.Value, value: Number(r[r.Value]) };
        });
        const scorer = distanceTo(index.config, datapoint.featureVector);
        const neighbors = [...index.datapoints.values()]
          .filter((candidate) => candidate.vector.length > 0 && matchesTokens(candidate, datapoint.restricts) && numeric.every((n) => matchesNumber(candidate, n)))
          .map((candidate) => ({ candidate, distance: scorer.distance(candidate.vector) }))
          .sort((a, b) => scorer.order(a.distance, b.distance) || (a.candidate.id < b.candidate.id ? -1 : 1))
          .slice(0, query.neighborCount > 0 ? query.neighborCount : DEFAULT_NEIGHBORS);
        return {
          id: datapoint.datapointId,
          neighbors: neighbors.map(({ candidate, distance }) => ({
            datapoint: request.returnFullDatapoint ? datapointToWire(candidate) : { datapointId: candidate.id, ...(candidate.crowdingTag ? { crowdingTag: { crowdingAttribute: candidate.crowdingTag } } : {}) },
            distance,
          })),
        };
      }),
    };
  };

  const readIndexDatapoints = async (request: { indexEndpoint: string; deployedIndexId: string; ids: string[] }) => {
    const index = deployedIndex(request.indexEndpoint, request.deployedIndexId);
    if (request.ids.length > MAX_READ_IDS) throw new EmulatorError(grpc.status.INVALID_ARGUMENT, `At most ${MAX_READ_IDS} ids may be read in one call; got ${request.ids.length}.`);
    return { datapoints: request.ids.flatMap((id) => (index.datapoints.has(id) ? [datapointToWire(index.datapoints.get(id) as StoredDatapoint)] : [])) };
  };

  return { name: `${V1}.MatchService`, protoFile: "google/cloud/aiplatform/v1/match_service.proto", methods: { FindNeighbors: findNeighbors, ReadIndexDatapoints: readIndexDatapoints } };
}

/** Hybrid (sparse and rrf) queries are not emulated yet. */
function sparseQuery(i: number): never {
  throw new EmulatorError(grpc.status.UNIMPLEMENTED, `queries[${i}]: the emulator answers dense queries only (no sparse embedding, no rrf) for now.`);
}

function matchesTokens(candidate: StoredDatapoint, restricts: ReadonlyArray<{ namespace: string; allowList: string[]; denyList: string[] }>): boolean {
  return restricts.every((query) => {
    const own = candidate.restricts.get(query.namespace);
    const tokens = own?.allow ?? [];
    if (query.allowList.length > 0 && !tokens.some((t) => query.allowList.includes(t))) return false;
    if (query.denyList.length > 0 && tokens.some((t) => query.denyList.includes(t))) return false;
    if (own && own.deny.length > 0 && query.allowList.some((t) => own.deny.includes(t))) return false;
    return true;
  });
}

const COMPARE: Record<string, (a: number, b: number) => boolean> = {
  LESS: (a, b) => a < b,
  LESS_EQUAL: (a, b) => a <= b,
  EQUAL: (a, b) => a === b,
  GREATER_EQUAL: (a, b) => a >= b,
  GREATER: (a, b) => a > b,
  NOT_EQUAL: (a, b) => a !== b,
};

function matchesNumber(candidate: StoredDatapoint, query: { namespace: string; op: string; kind: string; value: number }): boolean {
  const own = candidate.numeric.get(query.namespace);
  if (!own || own.kind !== query.kind) return false;
  // valueFloat travels as a 32-bit float on both sides: compare as such.
  const [a, b] = own.kind === "valueFloat" ? [Math.fround(own.value), Math.fround(query.value)] : [own.value, query.value];
  return (COMPARE[query.op] ?? (() => false))(a, b);
}

function distanceTo(config: IndexConfig, query: readonly number[]): { distance(vector: readonly number[]): number; order(a: number, b: number): number } {
  const q = config.unitNorm ? unit(query) : query;
  const view = (vector: readonly number[]) => (config.unitNorm ? unit(vector) : vector);
  switch (config.distance) {
    case "DOT_PRODUCT_DISTANCE":
      return { distance: (v) => dot(q, view(v)), order: (a, b) => b - a };
    case "COSINE_DISTANCE":
      return { distance: (v) => 1 - dot(unit(q), unit(v)), order: (a, b) => a - b };
    case "SQUARED_L2_DISTANCE":
      return { distance: (v) => view(v).reduce((sum, x, i) => sum + (x - (q[i] as number)) ** 2, 0), order: (a, b) => a - b };
    case "L1_DISTANCE":
      return { distance: (v) => view(v).reduce((sum, x, i) => sum + Math.abs(x - (q[i] as number)), 0), order: (a, b) => a - b };
  }
}

function dot(a: readonly number[], b: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < a.length; i += 1) sum += (a[i] as number) * (b[i] as number);
  return sum;
}

function unit(vector: readonly number[]): readonly number[] {
  const norm = Math.sqrt(dot(vector, vector));
  return norm === 0 ? vector : vector.map((x) => x / norm);
}
