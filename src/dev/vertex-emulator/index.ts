import { startGrpcEmulator, type GrpcEmulator } from "./grpc-server.js";
import { predictionService, type PredictionServiceOptions, type PredictRecord } from "./prediction-service.js";

export { EmulatorError } from "./emulator-error.js";
export type { FaultCode, Faults } from "./faults.js";
export { EMULATED_EMBEDDING_MODELS, MAX_REQUEST_TOKENS, type PredictRecord } from "./prediction-service.js";

/**
 * An in-process emulator of the Vertex AI services ragops uses, for tests and
 * the emulated demo. Point the real @google-cloud/aiplatform clients at it
 * with ragops' gcp.vertexApiEndpoint = `emulator.endpoint` (or the client
 * options in indexer/vertex/client-options.ts).
 *
 * Served today: PredictionService.Predict (publisher embedding models).
 * Every other method answers UNIMPLEMENTED.
 *
 * Adding a service (Vector Search: IndexService, IndexEndpointService,
 * MatchService, google.longrunning.Operations):
 * 1. Write a module like prediction-service.ts that returns an EmulatedService:
 *    the service's full name, its .proto file (google/cloud/aiplatform/v1/
 *    index_service.proto; google/longrunning/operations.proto is found in
 *    google-gax's protos) and handlers for the methods it serves, by their
 *    proto names. Requests arrive as @grpc/proto-loader decodes them
 *    (camelCase, int64 as strings, a oneof's choice in `kind`; Values through
 *    values.ts); throw an EmulatorError to answer a status. Calls are counted
 *    and pass the fault injector before they reach a handler.
 * 2. State several services share (indexes and their datapoints, endpoints and
 *    deployed indexes, operations) is one object made in startVertexEmulator
 *    and handed to each module; expose what tests read on VertexEmulator.
 * 3. A long-running method answers {name, done: false, metadata: Any};
 *    Operations.GetOperation on the same server answers {name, done: true,
 *    response: Any} once the work is done. An Any is {type_url:
 *    "type.googleapis.com/google.cloud.aiplatform.v1.DeployIndexResponse",
 *    value: bytes} (type_url in snake case even with this loader), the bytes
 *    encoded with protobufjs (`protobuf` from google-gax) from the same protos.
 * 4. Add the module to the list given to startGrpcEmulator below.
 */
export interface VertexEmulatorOptions extends PredictionServiceOptions {
  /** @defaultValue 0 (a free port) */
  port?: number;
}

export interface VertexEmulator extends GrpcEmulator {
  prediction: { readonly requests: PredictRecord[] };
}

export async function startVertexEmulator(options: VertexEmulatorOptions = {}): Promise<VertexEmulator> {
  const prediction = predictionService(options);
  const server = await startGrpcEmulator([prediction], options.port === undefined ? {} : { port: options.port });
  return { ...server, prediction };
}
