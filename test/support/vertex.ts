import { vectorSearchClients, type ClientsHandle } from "../../indexer/indexes/vertex-clients.js";
import { vertexOperations } from "../../indexer/indexes/vertex-operations.js";
import type { GcsEmulator } from "../../src/dev/gcs-emulator.js";
import { startVertexEmulator, type VertexEmulator } from "../../src/dev/vertex-emulator/index.js";

export const VERTEX_PARENT = "projects/ragops-test/locations/us-central1";

/** The Vertex AI emulator with one index endpoint made on it (what an operator creates once), and clients on it; close() stops both. */
export async function vertexWithEndpoint(options: { gcs?: GcsEmulator } = {}): Promise<{ emulator: VertexEmulator; clients: ClientsHandle; indexEndpoint: string; close(): Promise<void> }> {
  const emulator = await startVertexEmulator(options.gcs ? { gcs: options.gcs } : {});
  const clients = vectorSearchClients({ location: "us-central1", vertexApiEndpoint: emulator.endpoint });
  const operations = vertexOperations(clients, { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, timeoutMs: 10_000, pollMs: 1, pollMaxMs: 5 });
  const indexEndpoint = (await operations.wait("createIndexEndpoint", await operations.startCreateIndexEndpoint(VERTEX_PARENT, "ragops"))).indexEndpoint as string;
  return {
    emulator,
    clients,
    indexEndpoint,
    close: async () => {
      await clients.close();
      await emulator.stop();
    },
  };
}
