import { startGrpcEmulator, type GrpcEmulator } from "./grpc-server.js";
import type { StoredDatapoint } from "./datapoints.js";
import { indexEndpointService } from "./index-endpoint-service.js";
import { indexService } from "./index-service.js";
import { matchService } from "./match-service.js";
import { createOperations, type OperationsControl } from "./operations.js";
import { predictionService, type PredictionServiceOptions, type PredictRecord } from "./prediction-service.js";
import { createVectorSearchState, type GcsObjects } from "./vector-search-state.js";

export { EmulatorError } from "./emulator-error.js";
export type { FaultCode, Faults } from "./faults.js";
export type { StoredDatapoint } from "./datapoints.js";
export { MAX_DATA_FILES } from "./batch-import.js";
export { MAX_READ_IDS } from "./match-service.js";
export type { OperationHold, OperationRecord, OperationsControl } from "./operations.js";
export type { GcsObjects } from "./vector-search-state.js";
export { EMULATED_EMBEDDING_MODELS, MAX_REQUEST_TOKENS, type PredictRecord } from "./prediction-service.js";

/**
 * An in-process emulator of the Vertex AI services ragops uses, for tests and
 * the emulated demo. Point the real @google-cloud/aiplatform clients at it
 * with ragops' gcp.vertexApiEndpoint = `emulator.endpoint` (or the client
 * options in indexer/vertex/client-options.ts).
 *
 * Served:
 * - PredictionService.Predict (publisher embedding models; prediction-service.ts);
 * - Vector Search: IndexService (index-service.ts), IndexEndpointService
 *   (index-endpoint-service.ts), MatchService (match-service.ts), with
 *   google.longrunning.Operations.GetOperation for their long-running
 *   operations (operations.ts). A batch update reads its files from the GCS
 *   emulator given as `gcs`.
 * Every other method answers UNIMPLEMENTED.
 *
 * Adding a service:
 * 1. Write a module like prediction-service.ts that returns an EmulatedService:
 *    the service's full name, its .proto file (google/cloud/aiplatform/v1/
 *    index_service.proto; google/longrunning/operations.proto is found in
 *    google-gax's protos) and handlers for the methods it serves, by their
 *    proto names. Requests arrive as @grpc/proto-loader decodes them
 *    (camelCase, int64 as strings, a oneof's choice in `kind` for a Value and
 *    under the oneof's name otherwise; Values through values.ts); throw an
 *    EmulatorError to answer a status. Calls are counted and pass the fault
 *    injector before they reach a handler.
 * 2. State several services share (indexes and their datapoints, endpoints and
 *    deployed indexes, operations) is one object made in startVertexEmulator
 *    (vector-search-state.ts) and handed to each module; expose what tests read
 *    on VertexEmulator.
 * 3. A long-running method returns `state.operations.start({...})` with a
 *    `finish` that does the work when a GetOperation poll ends it (operations.ts).
 * 4. Add the module to the list given to startGrpcEmulator below.
 */
export interface VertexEmulatorOptions extends PredictionServiceOptions {
  /** @defaultValue 0 (a free port) */
  port?: number;
  /** Where batch updates (contentsDeltaUri) read their files: the GCS emulator. */
  gcs?: GcsObjects;
  /** GetOperation polls a long-running operation takes to finish. @defaultValue 1 */
  operationPolls?: number;
}

export interface VertexEmulator extends GrpcEmulator {
  prediction: { readonly requests: PredictRecord[] };
  vectorSearch: VectorSearchView;
}

/** What tests read and steer of the Vector Search state. */
export interface VectorSearchView {
  operations: OperationsControl;
  /** Index names. */
  indexes(): string[];
  /** An index's datapoints by id, undefined when it does not exist. */
  datapoints(indexName: string): ReadonlyMap<string, StoredDatapoint> | undefined;
  /** Deployed index ids on an endpoint, with the index each serves. */
  deployed(endpointName: string): Map<string, string>;
}

export async function startVertexEmulator(options: VertexEmulatorOptions = {}): Promise<VertexEmulator> {
  const prediction = predictionService(options);
  const operations = createOperations(options.operationPolls === undefined ? {} : { pollsToFinish: options.operationPolls });
  const state = createVectorSearchState(operations, options.gcs);
  const services = [prediction, indexService(state), indexEndpointService(state), matchService(state), operations.service];
  const server = await startGrpcEmulator(services, options.port === undefined ? {} : { port: options.port });
  const vectorSearch: VectorSearchView = {
    operations,
    indexes: () => [...state.indexes.keys()],
    datapoints: (name) => state.indexes.get(name)?.datapoints,
    deployed: (name) => new Map([...(state.endpoints.get(name)?.deployed.values() ?? [])].map((d) => [d.id, d.index])),
  };
  return { ...server, prediction, vectorSearch };
}
