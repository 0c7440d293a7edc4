import { InvalidRequestError } from "../../core/errors.js";
import type { GcpConfig } from "../../config/schema.js";
import type { VectorSearchEndpointConfig } from "./vertex-clients.js";
import type { VertexDeploySpec, VertexIndexSpec } from "./vertex-operations.js";
import type { VertexIndexOptions } from "./vertex.js";

/**
 * The gcp config as the Vertex Vector Search adapter and its operations take
 * it: resource names completed with the project and location, the
 * deployedIndexId of a version, the index and deployment specs.
 */

/** Where a version's index lives on Vertex, kept in the version's record (indexer/lifecycle/vertex-resources.ts). */
export interface VertexPlacement {
  indexEndpoint: string;
  deployedIndexId: string;
  /** The index's resource name, once it is created. */
  index?: string;
  /** Whether the index is deployed (and so can be searched and read). */
  deployed?: boolean;
}

export function vertexParent(gcp: GcpConfig): string {
  if (!gcp.project) throw new InvalidRequestError("Vertex AI Vector Search needs a Google Cloud project: set gcp.project (VERTEX_PROJECT)");
  return `projects/${gcp.project}/locations/${gcp.location}`;
}

export function vertexIndexEndpoint(gcp: GcpConfig): string {
  const endpoint = gcp.vectorSearch.indexEndpoint;
  if (!endpoint) throw new InvalidRequestError("Vertex AI Vector Search needs the index endpoint versions are deployed on: set gcp.vectorSearch.indexEndpoint (VERTEX_INDEX_ENDPOINT)");
  return endpoint.includes("/") ? endpoint : `${vertexParent(gcp)}/indexEndpoints/${endpoint}`;
}

/** A deployed index id is a letter, then letters, digits and '_': the version's '-' become '_' (version names hold no '_', so no two collide). */
export function deployedIndexIdOf(gcp: GcpConfig, version: string): string {
  return `${gcp.vectorSearch.deployedIndexPrefix}_${version.replace(/-/g, "_")}`;
}

export function placementOf(gcp: GcpConfig, version: string): VertexPlacement {
  return { indexEndpoint: vertexIndexEndpoint(gcp), deployedIndexId: deployedIndexIdOf(gcp, version) };
}

export function vectorSearchEndpointConfig(gcp: GcpConfig): VectorSearchEndpointConfig {
  return { location: gcp.location, vertexApiEndpoint: gcp.vertexApiEndpoint, matchApiEndpoint: gcp.vectorSearch.matchApiEndpoint };
}

export function vertexIndexSpec(gcp: GcpConfig, version: string, dimensions: number): VertexIndexSpec {
  const vs = gcp.vectorSearch;
  return {
    displayName: `${vs.deployedIndexPrefix}-${version}`,
    description: `ragops index version ${version}`,
    dimensions,
    labels: { ragops_deployment: vs.deployedIndexPrefix.toLowerCase(), ragops_version: version },
    shardSize: vs.shardSize,
    approximateNeighborsCount: vs.approximateNeighborsCount,
    algorithm: vs.algorithm,
    leafNodeEmbeddingCount: vs.leafNodeEmbeddingCount,
    leafNodesToSearchPercent: vs.leafNodesToSearchPercent,
  };
}

export function vertexDeploySpec(gcp: GcpConfig): VertexDeploySpec {
  return { machineType: gcp.vectorSearch.machineType, minReplicaCount: gcp.vectorSearch.minReplicaCount, maxReplicaCount: gcp.vectorSearch.maxReplicaCount };
}

/** Request settings of the adapter and its operations. */
export function vertexCallSettings(gcp: GcpConfig): Pick<VertexIndexOptions, "upsertBatchSize" | "removeBatchSize" | "readBatchSize" | "requestConcurrency" | "maxAttempts" | "operationPollMs" | "operationPollMaxMs"> {
  const vs = gcp.vectorSearch;
  return { upsertBatchSize: vs.upsertBatchSize, removeBatchSize: vs.removeBatchSize, readBatchSize: vs.readBatchSize, requestConcurrency: vs.requestConcurrency, maxAttempts: vs.maxAttempts, operationPollMs: vs.operationPollMs, operationPollMaxMs: vs.operationPollMaxMs };
}
