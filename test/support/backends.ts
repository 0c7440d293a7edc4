import { expect } from "vitest";
import { startGcsEmulator } from "../../src/dev/gcs-emulator.js";
import { readAlias } from "../../indexer/lifecycle/alias.js";
import { getVersion } from "../../indexer/lifecycle/versions.js";
import { listIndexIds, startStack, waitForJob, type Stack } from "./stack.js";
import { vertexWithEndpoint } from "./vertex.js";

/** Where the suite runs: the embedded defaults, and the gcp adapters (GCS object store, Vertex AI Vector Search for every version) against their emulators. */
export interface Backend {
  name: string;
  provider: "lancedb" | "vertex";
  /** The stack, its stop, and the ids the live version's index holds (read from the service: Vertex has no list call, its emulator does). */
  start(): Promise<{ stack: Stack; stop(): Promise<void>; liveIds(): Promise<string[]> }>;
}

export const BACKENDS: Backend[] = [
  {
    name: "local directory and LanceDB",
    provider: "lancedb",
    start: async () => {
      const stack = await startStack();
      return { stack, stop: () => stack.stop(), liveIds: async () => listIndexIds(await stack.runtime.index()) };
    },
  },
  {
    name: "GCS and Vertex AI Vector Search, emulated",
    provider: "vertex",
    start: async () => {
      const gcs = await startGcsEmulator({ buckets: ["lifecycle"] });
      const { emulator: vertex, indexEndpoint, close } = await vertexWithEndpoint();
      const stack = await startStack({
        objectStore: { provider: "gcs" },
        index: { provider: "vertex" },
        gcp: { project: "ragops-test", location: "us-central1", bucket: "lifecycle", storageApiEndpoint: gcs.url, vertexApiEndpoint: vertex.endpoint, vectorSearch: { indexEndpoint, algorithm: "bruteForce", operationPollMs: 2, operationPollMaxMs: 20 } },
      });
      // A fresh deployment on Vertex: the first worker creates and deploys v1's index.
      expect((await waitForJob(stack.url, "build-v1-first")).state).toBe("completed");
      return {
        stack,
        liveIds: async () => {
          const live = (await readAlias(stack.runtime.store)).alias.live as string;
          const index = (await getVersion(stack.runtime.store, live)).vertex?.index as string;
          return [...(vertex.vectorSearch.datapoints(index)?.keys() ?? [])];
        },
        stop: async () => {
          await stack.stop();
          await close();
          await gcs.close();
        },
      };
    },
  },
];

