import { join } from "node:path";
import type { GcpConfig, IndexProvider } from "../../config/schema.js";
import { UnavailableError } from "../../core/errors.js";
import { createLanceDbIndex, type TableLease, type TableWriteSignal } from "./lancedb.js";
import type { ClientsHandle } from "./vertex-clients.js";
import { vectorSearchEndpointConfig, vertexCallSettings, type VertexPlacement } from "./vertex-settings.js";
import type { TermStatsStore } from "./term-stats.js";
import type { VectorIndex } from "./vector-index.js";

export type { Datapoint, IndexFilter, Neighbor, NumericRestricts, Restricts, StoredRestricts, VectorIndex } from "./vector-index.js";

export interface OpenIndexOptions {
  dataDir: string;
  version: string;
  dimensions: number;
  /** config.index.memoryScanMaxRows */
  memoryScanMaxRows?: number;
  /** LanceDB: shared by every process writing the table, so one at a time compacts it or builds its ANN index. */
  maintenanceLease?: TableLease;
  /** LanceDB: commits announced across processes, so a search lists the table's versions only when one was made (or versionRecheckMs passed). */
  writeSignal?: TableWriteSignal;
  /** config.search.aliasRecheckMs */
  versionRecheckMs?: number;
  /** LanceDB: create a new table with stable row ids (index.rowLineage). */
  rowLineage?: boolean;
  /** config.index.annMinRows and annEf */
  ann?: { minRows: number; ef: number };
  /** config.index.fullTextMinRows */
  fullTextMinRows?: number;
  /** config.gcp: a Vertex version's project, endpoint and request settings. */
  gcp?: GcpConfig;
  /** Where a Vertex version's index is (its record's): it must be created and deployed before the version can be opened. */
  vertex?: VertexPlacement | undefined;
  /** The process's Vector Search clients, shared by its Vertex versions. */
  vertexClients?: ClientsHandle;
  /** Where a Vertex version that holds sparse vectors (retrieval mode hybrid or text) keeps its BM25 term statistics; absent for a dense one. */
  termStats?: TermStatsStore | undefined;
}

/** Opens one index version with the adapter its record pins (index versions on different providers live side by side). */
export async function openVectorIndex(index: { provider: IndexProvider }, options: OpenIndexOptions): Promise<VectorIndex> {
  switch (index.provider) {
    case "lancedb":
      return createLanceDbIndex({
        dir: join(options.dataDir, "lancedb"),
        version: options.version,
        dimensions: options.dimensions,
        ...(options.memoryScanMaxRows !== undefined ? { memoryScanMaxRows: options.memoryScanMaxRows } : {}),
        ...(options.ann ? { annMinRows: options.ann.minRows, annEf: options.ann.ef } : {}),
        ...(options.fullTextMinRows !== undefined ? { fullTextMinRows: options.fullTextMinRows } : {}),
        ...(options.rowLineage ? { rowLineage: true } : {}),
        ...(options.maintenanceLease ? { maintenanceLease: options.maintenanceLease } : {}),
        ...(options.writeSignal ? { writeSignal: options.writeSignal } : {}),
        ...(options.versionRecheckMs !== undefined ? { versionRecheckMs: options.versionRecheckMs } : {}),
      });
    case "vertex": {
      const placement = options.vertex;
      if (!placement?.index || !placement.deployed || !options.gcp) {
        throw new UnavailableError(`index version ${options.version} has no deployed Vertex AI index yet: its build job creates and deploys it (see the version's operation and the build job's progress)`);
      }
      const { createVertexIndex } = await import("./vertex.js");
      return createVertexIndex({
        ...vectorSearchEndpointConfig(options.gcp),
        ...vertexCallSettings(options.gcp),
        index: placement.index,
        indexEndpoint: placement.indexEndpoint,
        deployedIndexId: placement.deployedIndexId,
        dimensions: options.dimensions,
        ...(options.vertexClients ? { clients: options.vertexClients } : {}),
        ...(options.termStats ? { termStats: options.termStats } : {}),
        hybridFusion: options.gcp.vectorSearch.hybridFusion,
      });
    }
  }
}
