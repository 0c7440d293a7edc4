import type { EmbedderConfig, GcpConfig } from "../../config/schema.js";
import { InvalidRequestError } from "../../core/errors.js";
import type { Embedder, EmbedderIdentity } from "./embedder.js";
import { createOfflineHashingEmbedder } from "./offline-hashing.js";
import { createVertexEmbedder } from "./vertex.js";
import { vertexEmbedderIdentity } from "./vertex-requests.js";

export type { Embedder, EmbedderIdentity, EmbedPurpose } from "./embedder.js";

/**
 * The embedder an index version's config names. The Vertex adapter loads
 * @google-cloud/aiplatform on its first call, so a process on the offline
 * embedder never loads it.
 */
export function createEmbedder(config: EmbedderConfig, gcp?: GcpConfig): Embedder {
  switch (config.provider) {
    case "offline":
      return createOfflineHashingEmbedder({ dimensions: config.dimensions });
    case "vertex": {
      if (!gcp?.project) throw new InvalidRequestError("the vertex embedder needs a Google Cloud project: set gcp.project (VERTEX_PROJECT)");
      const { model, requestConcurrency, maxAttempts } = config.vertex;
      return createVertexEmbedder({ project: gcp.project, location: gcp.location, vertexApiEndpoint: gcp.vertexApiEndpoint, model, dimensions: config.dimensions, requestConcurrency, maxAttempts });
    }
  }
}

/** The identity the embedder of this config has, without making it. */
export function embedderIdentity(config: EmbedderConfig): EmbedderIdentity {
  switch (config.provider) {
    case "offline":
      return createOfflineHashingEmbedder({ dimensions: config.dimensions }).identity;
    case "vertex":
      return vertexEmbedderIdentity(config.vertex.model, config.dimensions);
  }
}
