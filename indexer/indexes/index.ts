import { join } from "node:path";
import type { IndexProvider } from "../../config/schema.js";
import { createLanceDbIndex } from "./lancedb.js";
import type { VectorIndex } from "./vector-index.js";

export type { Datapoint, IndexFilter, Neighbor, NumericRestricts, Restricts, StoredRestricts, VectorIndex } from "./vector-index.js";

export interface OpenIndexOptions {
  dataDir: string;
  version: string;
  dimensions: number;
  /** config.index.memoryScanMaxRows */
  memoryScanMaxRows?: number;
}

/** Opens one index version with the adapter its record pins (index versions on different providers live side by side). */
export function openVectorIndex(index: { provider: IndexProvider }, options: OpenIndexOptions): Promise<VectorIndex> {
  switch (index.provider) {
    case "lancedb":
      return createLanceDbIndex({ dir: join(options.dataDir, "lancedb"), version: options.version, dimensions: options.dimensions, ...(options.memoryScanMaxRows !== undefined ? { memoryScanMaxRows: options.memoryScanMaxRows } : {}) });
  }
}
