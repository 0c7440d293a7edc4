import type { EmbedderConfig } from "../../config/schema.js";
import type { Embedder } from "./embedder.js";
import { createOfflineHashingEmbedder } from "./offline-hashing.js";

export type { Embedder, EmbedderIdentity, EmbedPurpose } from "./embedder.js";

export function createEmbedder(config: EmbedderConfig): Embedder {
  switch (config.provider) {
    case "offline":
      return createOfflineHashingEmbedder({ dimensions: config.dimensions });
  }
}
