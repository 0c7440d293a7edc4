import { join } from "node:path";
import type { IndexConfig } from "../../config/schema.js";
import { createLanceDbIndex } from "./lancedb.js";
import type { VectorIndex } from "./vector-index.js";

export type { Datapoint, IndexFilter, MetadataUpdate, Neighbor, Restricts, StoredDatapoint, VectorIndex } from "./vector-index.js";

export interface OpenIndexOptions {
  dataDir: string;
  version: string;
  dimensions: number;
}

export function openVectorIndex(config: IndexConfig, options: OpenIndexOptions): Promise<VectorIndex> {
  switch (config.provider) {
    case "lancedb":
      return createLanceDbIndex({ dir: join(options.dataDir, "lancedb"), version: options.version, dimensions: options.dimensions });
  }
}
