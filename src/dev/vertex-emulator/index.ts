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
