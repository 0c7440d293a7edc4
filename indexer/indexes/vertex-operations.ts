import { setTimeout as sleep } from "node:timers/promises";
import type { protos } from "@google-cloud/aiplatform";
import { RagopsError } from "../../core/errors.js";
import { GrpcCode, grpcFailure } from "../vertex/grpc-status.js";
import { vectorSearchCall, vectorSearchError, type CallPolicy, type ClientsHandle, type VectorSearchClients } from "./vertex-clients.js";

/**
 * The long-running Vector Search operations of an index version's life:
 * create its index, deploy it on the endpoint, batch-update it from a GCS
 * directory, undeploy it, delete it.
 *
 * Each `start…` sends the request and returns the operation's name at once;
 * `wait` polls an operation by name (checkXProgress: one GetOperation per
 * poll) until it ends, so a process that did not start it (a worker started
 * again after a crash) finishes following it from its name alone. Polls back
 * off from `pollMs` by half again each time, up to `pollMaxMs`.
 *
 * Starting what is already so is not an error: deploying an id the endpoint
 * already has, undeploying or deleting what is gone, return no operation
 * (undefined): a step retried after its operation's name was lost goes on.
 */
export type VertexOperationKind = "createIndex" | "updateIndex" | "deleteIndex" | "deployIndex" | "undeployIndex" | "createIndexEndpoint";

/** What an index version's Vertex index is made with (from config gcp.vectorSearch). */
export interface VertexIndexSpec {
  displayName: string;
  description?: string;
  dimensions: number;
  labels?: Record<string, string>;
  /** SHARD_SIZE_SMALL, MEDIUM or LARGE. */
  shardSize: string;
  approximateNeighborsCount: number;
  algorithm: "treeAh" | "bruteForce";
  leafNodeEmbeddingCount: number;
  leafNodesToSearchPercent: number;
}

/** How a deployed index is served (dedicatedResources). */
export interface VertexDeploySpec {
  machineType: string;
  minReplicaCount: number;
  maxReplicaCount: number;
}

export interface OperationPolicy extends CallPolicy {
  /** First wait between two polls, ms. */
  pollMs: number;
  /** Longest wait between two polls, ms. */
  pollMaxMs: number;
}

/** How a batch update's files were read: Vertex's contentValidationStats, summed. */
export interface BatchValidation {
  valid: number;
  invalid: number;
  /** The first record errors, "<file>: <type>: <message>". */
  errors: string[];
}

export interface OperationOutcome {
  /** createIndex: the index's resource name. */
  index?: string;
  /** createIndexEndpoint: the endpoint's resource name. */
  indexEndpoint?: string;
  /** updateIndex with contentsDeltaUri. */
  validation?: BatchValidation;
}

/** One poll, as `wait` reports it to its caller (a job's progress). */
export interface OperationPoll {
  kind: VertexOperationKind;
  name: string;
  polls: number;
  elapsedMs: number;
}

export interface VertexOperations {
  /** A public index endpoint (ragops uses one, made beforehand and named in gcp.vectorSearch.indexEndpoint). */
  startCreateIndexEndpoint(parent: string, displayName: string): Promise<string>;
  startCreateIndex(parent: string, spec: VertexIndexSpec): Promise<string>;
  startDeployIndex(indexEndpoint: string, deployed: { index: string; deployedIndexId: string; displayName: string }, spec: VertexDeploySpec): Promise<string | undefined>;
  startUndeployIndex(indexEndpoint: string, deployedIndexId: string): Promise<string | undefined>;
  startDeleteIndex(index: string): Promise<string | undefined>;
  /** A batch update of `index` from the files under `contentsDeltaUri` (gs://bucket/dir/). */
  startBatchUpdate(index: string, contentsDeltaUri: string, options?: { completeOverwrite?: boolean }): Promise<string>;
  /** Follows an operation to its end; a failed operation is thrown as a RagopsError. */
  wait(kind: VertexOperationKind, name: string, onPoll?: (poll: OperationPoll) => Promise<void> | void): Promise<OperationOutcome>;
  /** Whether the endpoint serves this deployed index id now. */
  isDeployed(indexEndpoint: string, deployedIndexId: string): Promise<boolean>;
}

interface PolledOperation {
  done?: boolean | null;
  error?: { code?: number | null; message?: string | null } | null;
  result?: unknown;
  metadata?: unknown;
}

export function vertexOperations(clients: ClientsHandle, policy: OperationPolicy): VertexOperations {
  const call = <T>(what: string, fn: (c: VectorSearchClients, options: { timeout: number }) => Promise<T>) => vectorSearchCall(what, policy, async (options) => fn(await clients.get(), options));
  /** A start that finds its work already done answers this status: no operation to follow. */
  const alreadyDone = async (what: string, code: number, start: () => Promise<string>): Promise<string | undefined> => {
    try {
      return await start();
    } catch (error) {
      const cause = error instanceof RagopsError ? error.cause : error;
      if (grpcFailure(cause)?.code === code) return undefined;
      throw error instanceof RagopsError ? error : vectorSearchError(error, what, 1);
    }
  };

  const check = async (kind: VertexOperationKind, name: string): Promise<PolledOperation> =>
    call(`polling operation ${name}`, async (c) => {
      switch (kind) {
        case "createIndex":
          return c.index.checkCreateIndexProgress(name);
        case "updateIndex":
          return c.index.checkUpdateIndexProgress(name);
        case "deleteIndex":
          return c.index.checkDeleteIndexProgress(name);
        case "deployIndex":
          return c.endpoint.checkDeployIndexProgress(name);
        case "undeployIndex":
          return c.endpoint.checkUndeployIndexProgress(name);
        case "createIndexEndpoint":
          return c.endpoint.checkCreateIndexEndpointProgress(name);
      }
    });

  return {
    startCreateIndexEndpoint: async (parent, displayName) =>
      call(`creating index endpoint ${displayName} in ${parent}`, async (c, options) => {
        const [operation] = await c.endpoint.createIndexEndpoint({ parent, indexEndpoint: { displayName, publicEndpointEnabled: true } }, options);
        return operation.name as string;
      }),
    startCreateIndex: async (parent, spec) =>
      call(`creating index ${spec.displayName} in ${parent}`, async (c, options) => {
        const [operation] = await c.index.createIndex({ parent, index: indexResource(c, spec) }, options);
        return operation.name as string;
      }),
    startDeployIndex: (indexEndpoint, deployed, spec) => {
      const what = `deploying index ${deployed.index} on ${indexEndpoint} as ${deployed.deployedIndexId}`;
      return alreadyDone(what, GrpcCode.ALREADY_EXISTS, () =>
        call(what, async (c, options) => {
          const deployedIndex: protos.google.cloud.aiplatform.v1.IDeployedIndex = {
            id: deployed.deployedIndexId,
            index: deployed.index,
            displayName: deployed.displayName,
            dedicatedResources: { machineSpec: { machineType: spec.machineType }, minReplicaCount: spec.minReplicaCount, maxReplicaCount: spec.maxReplicaCount },
          };
          const [operation] = await c.endpoint.deployIndex({ indexEndpoint, deployedIndex }, options);
          return operation.name as string;
        }),
      );
    },
    startUndeployIndex: (indexEndpoint, deployedIndexId) => {
      const what = `undeploying ${deployedIndexId} from ${indexEndpoint}`;
      return alreadyDone(what, GrpcCode.NOT_FOUND, () =>
        call(what, async (c, options) => {
          const [operation] = await c.endpoint.undeployIndex({ indexEndpoint, deployedIndexId }, options);
          return operation.name as string;
        }),
      );
    },
    startDeleteIndex: (index) => {
      const what = `deleting index ${index}`;
      return alreadyDone(what, GrpcCode.NOT_FOUND, () =>
        call(what, async (c, options) => {
          const [operation] = await c.index.deleteIndex({ name: index }, options);
          return operation.name as string;
        }),
      );
    },
    startBatchUpdate: (index, contentsDeltaUri, options = {}) =>
      call(`updating index ${index} from ${contentsDeltaUri}`, async (c, callOptions) => {
        const metadata = c.helpers.toValue({ contentsDeltaUri, isCompleteOverwrite: options.completeOverwrite ?? false }) as protos.google.protobuf.IValue;
        const [operation] = await c.index.updateIndex({ index: { name: index, metadata }, updateMask: { paths: ["metadata"] } }, callOptions);
        return operation.name as string;
      }),
    wait: async (kind, name, onPoll) => {
      const started = Date.now();
      let delay = policy.pollMs;
      for (let polls = 1; ; polls += 1) {
        const operation = await check(kind, name);
        if (operation.done) {
          if (operation.error) throw operationFailed(kind, name, operation.error);
          return outcome(kind, operation);
        }
        await onPoll?.({ kind, name, polls, elapsedMs: Date.now() - started });
        await sleep(delay);
        delay = Math.min(policy.pollMaxMs, Math.ceil(delay * 1.5));
      }
    },
    isDeployed: async (indexEndpoint, deployedIndexId) =>
      call(`reading index endpoint ${indexEndpoint}`, async (c, options) => {
        const [endpoint] = await c.endpoint.getIndexEndpoint({ name: indexEndpoint }, options);
        return (endpoint.deployedIndexes ?? []).some((d) => d.id === deployedIndexId);
      }),
  };
}

function indexResource(clients: VectorSearchClients, spec: VertexIndexSpec): protos.google.cloud.aiplatform.v1.IIndex {
  const algorithmConfig = spec.algorithm === "bruteForce" ? { bruteForceConfig: {} } : { treeAhConfig: { leafNodeEmbeddingCount: spec.leafNodeEmbeddingCount, leafNodesToSearchPercent: spec.leafNodesToSearchPercent } };
  const config = { dimensions: spec.dimensions, approximateNeighborsCount: spec.approximateNeighborsCount, distanceMeasureType: "DOT_PRODUCT_DISTANCE", featureNormType: "UNIT_L2_NORM", shardSize: spec.shardSize, algorithmConfig };
  return {
    displayName: spec.displayName,
    ...(spec.description ? { description: spec.description } : {}),
    ...(spec.labels ? { labels: spec.labels } : {}),
    indexUpdateMethod: "STREAM_UPDATE",
    metadata: clients.helpers.toValue({ config }) as protos.google.protobuf.IValue,
  };
}

/** A long-running operation that ended in failure (not a failure to poll it): starting it again is the way on. */
export class OperationFailedError extends RagopsError {
  constructor(
    readonly operation: string,
    mapped: RagopsError,
  ) {
    super(mapped.code, mapped.message, { cause: mapped.cause, retryable: mapped.retryable, details: { ...mapped.details, operation } });
  }
}

function operationFailed(kind: VertexOperationKind, name: string, error: { code?: number | null; message?: string | null }): RagopsError {
  const status = Object.assign(new Error(error.message ?? ""), { code: error.code ?? GrpcCode.UNKNOWN, details: error.message ?? "" });
  return new OperationFailedError(name, vectorSearchError(status, `operation ${kind} ${name}`, 1));
}

function outcome(kind: VertexOperationKind, operation: PolledOperation): OperationOutcome {
  if (kind === "createIndex") return { index: (operation.result as { name?: string } | null)?.name ?? "" };
  if (kind === "createIndexEndpoint") return { indexEndpoint: (operation.result as { name?: string } | null)?.name ?? "" };
  if (kind !== "updateIndex") return {};
  const stats = (operation.metadata as protos.google.cloud.aiplatform.v1.IUpdateIndexOperationMetadata | null)?.nearestNeighborSearchOperationMetadata?.contentValidationStats;
  if (!stats) return {};
  const validation: BatchValidation = { valid: 0, invalid: 0, errors: [] };
  for (const file of stats) {
    validation.valid += Number(String(file.validRecordCount ?? 0));
    validation.invalid += Number(String(file.invalidRecordCount ?? 0));
    for (const e of file.partialErrors ?? []) if (validation.errors.length < 10) validation.errors.push(`${e.sourceGcsUri || file.sourceGcsUri}: ${recordErrorName(e.errorType)}: ${e.errorMessage}`);
  }
  return { validation };
}

/** Metadata decoded from an operation's Any carries enums as numbers: the RecordErrorType's name, as index_service.proto lists them. */
const RECORD_ERROR_TYPES = ["ERROR_TYPE_UNSPECIFIED", "EMPTY_LINE", "INVALID_JSON_SYNTAX", "INVALID_CSV_SYNTAX", "INVALID_AVRO_SYNTAX", "INVALID_EMBEDDING_ID", "EMBEDDING_SIZE_MISMATCH", "NAMESPACE_MISSING", "PARSING_ERROR", "DUPLICATE_NAMESPACE", "OP_IN_DATAPOINT", "MULTIPLE_VALUES", "INVALID_NUMERIC_VALUE", "INVALID_ENCODING", "INVALID_SPARSE_DIMENSIONS", "INVALID_TOKEN_VALUE", "INVALID_SPARSE_EMBEDDING", "INVALID_EMBEDDING"];

function recordErrorName(type: unknown): string {
  return typeof type === "number" ? (RECORD_ERROR_TYPES[type] ?? String(type)) : String(type);
}
