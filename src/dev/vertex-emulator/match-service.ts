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
 * Sparse and hybrid queries, as https://cloud.google.com/vertex-ai/docs/vector-search/about-hybrid-search
 * describes them:
 * - a query datapoint with a sparse_embedding and no feature_vector ranks the
 *   datapoints holding a sparse embedding by dot product (sparse_distance,
 *   highest first); a datapoint sharing no dimension (with a non-zero weight
 *   on both sides) with the query is no match;
 * - with both, `rrf.alpha` fuses the dense and the sparse rankings by
 *   reciprocal rank fusion: a datapoint scores alpha / (60 + its dense rank) +
 *   (1 - alpha) / (60 + its sparse rank), a ranking it is missing from adding
 *   nothing (alpha 1: dense only, 0: sparse only, as the proto says). Each
 *   side ranks every datapoint the filters let through (exact search); the
 *   answer is the fused top neighbor_count, each neighbour carrying its dense
 *   `distance` and its `sparse_distance` (0 for a side it is not on). Vertex
 *   documents neither the rank constant nor the depth of each side: these are
 *   the emulator's choices. A query with both embeddings but no rrf is refused
 *   (the documentation pairs them always).
 * Filters apply to both sides alike.
 */
const V1 = "google.cloud.aiplatform.v1";
export const MAX_READ_IDS = 1_000;
const DEFAULT_NEIGHBORS = 10;
/** The rank constant of RRF: Vertex documents none, so the emulator takes the usual 60 (Cormack et al.); fusion.ts says why ragops fuses itself by default. */
export const RRF_RANK_CONSTANT = 60;

interface SparseWire {
  values: number[];
  dimensions: string[];
}

interface WireQuery {
  datapoint: {
    datapointId: string;
    featureVector: number[];
    sparseEmbedding?: SparseWire | null;
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
        const neighbors = rankNeighbors(index, query, i).slice(0, query.neighborCount > 0 ? query.neighborCount : DEFAULT_NEIGHBORS);
        return {
          id: datapoint.datapointId,
          neighbors: neighbors.map(({ candidate, distance, sparseDistance }) => ({
            datapoint: request.returnFullDatapoint ? datapointToWire(candidate) : { datapointId: candidate.id, ...(candidate.crowdingTag ? { crowdingTag: { crowdingAttribute: candidate.crowdingTag } } : {}) },
            distance,
            sparseDistance,
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

interface Ranked {
  candidate: StoredDatapoint;
  distance: number;
  sparseDistance: number;
}

/**
 * Every datapoint matching the query's filters, best first: by its dense
 * distance, by its sparse dot product, or both fused by RRF (see the module
 * comment). Ties go by id.
 */
function rankNeighbors(index: EmulatedIndex, query: WireQuery, i: number): Ranked[] {
  const datapoint = query.datapoint as NonNullable<WireQuery["datapoint"]>;
  const invalid = (message: string) => new EmulatorError(grpc.status.INVALID_ARGUMENT, `queries[${i}]: ${message}`);
  const dense = datapoint.featureVector.length > 0;
  const sparse = readSparseQuery(datapoint.sparseEmbedding, invalid);
  if (!dense && !sparse) throw invalid("the datapoint needs a feature_vector, a sparse_embedding, or both.");
  if (dense && datapoint.featureVector.length !== index.config.dimensions) throw invalid(`Incorrect dimensionality. Expected ${index.config.dimensions}, got ${datapoint.featureVector.length}.`);
  const alpha = query.rrf ? query.rrf.alpha : undefined;
  if (alpha !== undefined && !(alpha >= 0 && alpha <= 1)) throw invalid(`rrf.alpha must be between 0 and 1; got ${alpha}.`);
  if (dense && sparse && alpha === undefined) throw invalid("a query with both a feature_vector and a sparse_embedding needs rrf (the ranking that combines them).");
  const numeric = datapoint.numericRestricts.map((r, j) => {
    if (!r.op || r.op === "OPERATOR_UNSPECIFIED") throw invalid(`numeric_restricts[${j}] (${r.namespace}) needs an op.`);
    if (!r.Value) throw invalid(`numeric_restricts[${j}] (${r.namespace}) needs a value.`);
    return { namespace: r.namespace, op: r.op, kind: r.Value, value: Number(r[r.Value]) };
  });
  const allowed = [...index.datapoints.values()].filter((candidate) => matchesTokens(candidate, datapoint.restricts) && numeric.every((n) => matchesNumber(candidate, n)));
  const byId = (a: Ranked, b: Ranked) => (a.candidate.id < b.candidate.id ? -1 : a.candidate.id > b.candidate.id ? 1 : 0);

  let denseRanking: Ranked[] = [];
  if (dense) {
    const scorer = distanceTo(index.config, datapoint.featureVector);
    denseRanking = allowed
      .filter((candidate) => candidate.vector.length > 0)
      .map((candidate) => ({ candidate, distance: scorer.distance(candidate.vector), sparseDistance: 0 }))
      .sort((a, b) => scorer.order(a.distance, b.distance) || byId(a, b));
  }
  let sparseRanking: Ranked[] = [];
  if (sparse) {
    sparseRanking = allowed
      .flatMap((candidate) => {
        const score = candidate.sparse ? sparseDot(sparse, candidate.sparse) : undefined;
        return score === undefined ? [] : [{ candidate, distance: 0, sparseDistance: score }];
      })
      .sort((a, b) => b.sparseDistance - a.sparseDistance || byId(a, b));
  }
  if (!dense) return sparseRanking;
  if (!sparse) return denseRanking;

  // Hybrid: reciprocal rank fusion, alpha on the dense ranking and 1 - alpha on the sparse one.
  const weight = alpha as number;
  const fused = new Map<string, { ranked: Ranked; score: number }>();
  const add = (ranking: Ranked[], share: number, side: "dense" | "sparse") => {
    if (share <= 0) return;
    ranking.forEach((ranked, rank) => {
      const entry = fused.get(ranked.candidate.id) ?? { ranked: { candidate: ranked.candidate, distance: 0, sparseDistance: 0 }, score: 0 };
      entry.score += share / (RRF_RANK_CONSTANT + rank + 1);
      if (side === "dense") entry.ranked.distance = ranked.distance;
      else entry.ranked.sparseDistance = ranked.sparseDistance;
      fused.set(ranked.candidate.id, entry);
    });
  };
  add(denseRanking, weight, "dense");
  add(sparseRanking, 1 - weight, "sparse");
  return [...fused.values()].sort((a, b) => b.score - a.score || byId(a.ranked, b.ranked)).map((entry) => entry.ranked);
}

function readSparseQuery(given: SparseWire | null | undefined, invalid: (message: string) => EmulatorError): { dimensions: number[]; values: number[] } | undefined {
  if (!given || (given.values.length === 0 && given.dimensions.length === 0)) return undefined;
  const dimensions = given.dimensions.map(Number);
  if (dimensions.length !== given.values.length) throw invalid(`the sparse embedding has ${dimensions.length} dimensions and ${given.values.length} values.`);
  if (new Set(dimensions).size !== dimensions.length) throw invalid("sparse dimensions must be unique.");
  return { dimensions, values: given.values };
}

/** The sparse dot product of a query and a datapoint, or undefined when no dimension has a non-zero weight on both sides (the datapoint is no match). */
function sparseDot(query: { dimensions: number[]; values: number[] }, own: { dimensions: number[]; values: number[] }): number | undefined {
  const weights = new Map<number, number>();
  own.dimensions.forEach((d, i) => weights.set(d, own.values[i] as number));
  let sum = 0;
  let shared = false;
  query.dimensions.forEach((d, i) => {
    const w = weights.get(d);
    const q = query.values[i] as number;
    if (w !== undefined && w !== 0 && q !== 0) {
      shared = true;
      sum += w * q;
    }
  });
  return shared ? sum : undefined;
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
