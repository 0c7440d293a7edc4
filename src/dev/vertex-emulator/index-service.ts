import { grpc } from "google-gax";
import { readBatchDirectory } from "./batch-import.js";
import { datapointFromApi, RecordError, type WireDatapoint } from "./datapoints.js";
import { EmulatorError } from "./emulator-error.js";
import type { EmulatedService } from "./grpc-server.js";
import { genericMetadata, timestamp } from "./operations.js";
import { checkParent, findIndex, readIndexConfig, type EmulatedIndex, type VectorSearchState } from "./vector-search-state.js";
import type { WireValue } from "./values.js";

/**
 * google.cloud.aiplatform.v1.IndexService: createIndex, getIndex,
 * updateIndex (display name, description, labels, or a batch update from
 * metadata.contentsDeltaUri, alone in its call as Vertex requires), deleteIndex
 * (refused while the index is deployed), upsertDatapoints (with update mask
 * all_restricts) and removeDatapoints, on STREAM_UPDATE indexes only.
 *
 * Choices where the documentation is silent, stricter rather than looser so a
 * client that passes here does not lean on leniency:
 * - an upsert holding one id twice is refused (INVALID_ARGUMENT), as a batch is;
 * - an upsert is checked whole before anything is written;
 * - an all_restricts update of an id the index lacks is NOT_FOUND.
 */
const V1 = "google.cloud.aiplatform.v1";

interface WireIndex {
  name?: string;
  displayName: string;
  description: string;
  metadata: WireValue | null;
  labels: Record<string, string>;
  indexUpdateMethod: string;
}

export function indexService(state: VectorSearchState): EmulatedService {
  const invalid = (message: string) => new EmulatorError(grpc.status.INVALID_ARGUMENT, message);

  const createIndex = async (request: { parent: string; index: WireIndex | null }) => {
    checkParent(request.parent);
    const given = request.index;
    if (!given?.displayName) throw invalid("Index.display_name is required.");
    const { config, contentsDeltaUri, isCompleteOverwrite } = readIndexConfig(given.metadata);
    const updateMethod = given.indexUpdateMethod === "STREAM_UPDATE" ? "STREAM_UPDATE" : "BATCH_UPDATE";
    const name = `${request.parent}/indexes/${state.nextId()}`;
    return state.operations.start({
      method: "CreateIndex",
      resource: name,
      metadataType: `${V1}.CreateIndexOperationMetadata`,
      metadata: { genericMetadata: genericMetadata() },
      finish: () => {
        const now = new Date();
        const index: EmulatedIndex = { name, displayName: given.displayName, description: given.description, labels: given.labels, metadata: given.metadata as WireValue, config, updateMethod, datapoints: new Map(), createTime: now, updateTime: now };
        const metadata = contentsDeltaUri ? importBatch(index, contentsDeltaUri, isCompleteOverwrite) : undefined;
        state.indexes.set(name, index);
        return { type: `${V1}.Index`, response: indexResource(state, index), ...(metadata ? { metadata: { genericMetadata: genericMetadata(), nearestNeighborSearchOperationMetadata: metadata } } : {}) };
      },
    });
  };

  const importBatch = (index: EmulatedIndex, uri: string, completeOverwrite: boolean) => {
    const batch = readBatchDirectory(state.gcs, uri, index);
    if (completeOverwrite) index.datapoints.clear();
    for (const id of batch.deletes) index.datapoints.delete(id);
    for (const datapoint of batch.upserts) index.datapoints.set(datapoint.id, datapoint);
    index.updateTime = new Date();
    return { contentValidationStats: batch.stats, dataBytesCount: String(batch.bytes) };
  };

  const updateIndex = async (request: { index: WireIndex | null; updateMask: { paths: string[] } | null }) => {
    const given = request.index;
    const index = findIndex(state, given?.name ?? "");
    const paths = request.updateMask?.paths ?? [];
    if (paths.length === 0) throw invalid("update_mask is required.");
    let batch: { uri: string; completeOverwrite: boolean } | undefined;
    if (paths.includes("metadata")) {
      const { config, contentsDeltaUri, isCompleteOverwrite } = readIndexConfig(mergeConfig(given?.metadata ?? null, index.metadata));
      if (config.dimensions !== index.config.dimensions || config.distance !== index.config.distance) throw invalid("Index.metadata.config cannot be changed.");
      if (contentsDeltaUri) {
        if (paths.length > 1) throw invalid("If contentsDeltaUri is set, no other Index field can be updated in the same call.");
        batch = { uri: contentsDeltaUri, completeOverwrite: isCompleteOverwrite };
      }
    }
    const unknown = paths.find((path) => !["metadata", "display_name", "description", "labels"].includes(path));
    if (unknown) throw invalid(`update_mask path ${unknown} cannot be updated.`);
    if (state.operations.pending("UpdateIndex", index.name) > 0) throw new EmulatorError(grpc.status.FAILED_PRECONDITION, `There is already an ongoing update of Index \`${index.name}\`.`);
    return state.operations.start({
      method: "UpdateIndex",
      resource: index.name,
      metadataType: `${V1}.UpdateIndexOperationMetadata`,
      metadata: { genericMetadata: genericMetadata() },
      finish: () => {
        const current = findIndex(state, index.name);
        if (paths.includes("display_name")) current.displayName = given?.displayName ?? "";
        if (paths.includes("description")) current.description = given?.description ?? "";
        if (paths.includes("labels")) current.labels = given?.labels ?? {};
        const stats = batch ? importBatch(current, batch.uri, batch.completeOverwrite) : undefined;
        current.updateTime = new Date();
        return { type: `${V1}.Index`, response: indexResource(state, current), ...(stats ? { metadata: { genericMetadata: genericMetadata(), nearestNeighborSearchOperationMetadata: stats } } : {}) };
      },
    });
  };

  const deleteIndex = async (request: { name: string }) => {
    const index = findIndex(state, request.name);
    const deployedOn = deployedRefs(state, index.name);
    if (deployedOn.length > 0) {
      throw new EmulatorError(grpc.status.FAILED_PRECONDITION, `Index \`${index.name}\` is deployed (${deployedOn.map((r) => `${r.indexEndpoint} as ${r.deployedIndexId}`).join(", ")}); undeploy it first.`);
    }
    return state.operations.start({
      method: "DeleteIndex",
      resource: index.name,
      metadataType: `${V1}.DeleteOperationMetadata`,
      metadata: { genericMetadata: genericMetadata() },
      finish: () => {
        state.indexes.delete(index.name);
        return { type: "google.protobuf.Empty", response: {} };
      },
    });
  };

  const streamingIndex = (name: string) => {
    const index = findIndex(state, name);
    if (index.updateMethod !== "STREAM_UPDATE") throw new EmulatorError(grpc.status.FAILED_PRECONDITION, `StreamUpdate is not enabled on Index \`${name}\` (created with indexUpdateMethod ${index.updateMethod}).`);
    return index;
  };

  const upsertDatapoints = async (request: { index: string; datapoints: WireDatapoint[]; updateMask: { paths: string[] } | null }) => {
    const index = streamingIndex(request.index);
    const paths = request.updateMask?.paths ?? [];
    if (paths.some((path) => path !== "all_restricts")) throw invalid(`update_mask may only hold all_restricts; got ${paths.join(", ")}.`);
    const restrictsOnly = paths.length > 0;
    const seen = new Set<string>();
    const read = request.datapoints.map((wire, i) => {
      if (seen.has(wire.datapointId)) throw invalid(`datapoints[${i}]: datapoint ${wire.datapointId} is given more than once in this request.`);
      seen.add(wire.datapointId);
      try {
        // An all_restricts update carries no vector: only its restricts are read.
        return datapointFromApi(restrictsOnly ? { ...wire, featureVector: new Array<number>(index.config.dimensions).fill(0), sparseEmbedding: null } : wire, { dimensions: index.config.dimensions });
      } catch (error) {
        if (error instanceof RecordError) throw invalid(`datapoints[${i}] (${wire.datapointId || "no id"}): ${error.type}: ${error.message}`);
        throw error;
      }
    });
    if (restrictsOnly) {
      const missing = read.find((datapoint) => !index.datapoints.has(datapoint.id));
      if (missing) throw new EmulatorError(grpc.status.NOT_FOUND, `Datapoint ${missing.id} is not in Index \`${index.name}\`; an all_restricts update needs an existing datapoint.`);
      for (const datapoint of read) {
        const current = index.datapoints.get(datapoint.id);
        if (current) index.datapoints.set(datapoint.id, { ...current, restricts: datapoint.restricts, numeric: datapoint.numeric });
      }
    } else for (const datapoint of read) index.datapoints.set(datapoint.id, datapoint);
    index.updateTime = new Date();
    return {};
  };

  const removeDatapoints = async (request: { index: string; datapointIds: string[] }) => {
    const index = streamingIndex(request.index);
    for (const id of request.datapointIds) index.datapoints.delete(id);
    index.updateTime = new Date();
    return {};
  };

  const getIndex = async (request: { name: string }) => indexResource(state, findIndex(state, request.name));

  return {
    name: `${V1}.IndexService`,
    protoFile: "google/cloud/aiplatform/v1/index_service.proto",
    methods: { CreateIndex: createIndex, GetIndex: getIndex, UpdateIndex: updateIndex, DeleteIndex: deleteIndex, UpsertDatapoints: upsertDatapoints, RemoveDatapoints: removeDatapoints },
  };
}

/** An update's metadata may hold only contentsDeltaUri: the config it checks against is the index's own. */
function mergeConfig(update: WireValue | null, current: WireValue): WireValue {
  const fields = update?.structValue?.fields ?? {};
  if (fields.config) return update as WireValue;
  return { kind: "structValue", structValue: { fields: { ...(current.structValue?.fields ?? {}), ...fields } } };
}

function deployedRefs(state: VectorSearchState, indexName: string): Array<{ indexEndpoint: string; deployedIndexId: string }> {
  return [...state.endpoints.values()].flatMap((endpoint) => [...endpoint.deployed.values()].filter((d) => d.index === indexName).map((d) => ({ indexEndpoint: endpoint.name, deployedIndexId: d.id })));
}

/** google.cloud.aiplatform.v1.Index as getIndex answers it. */
export function indexResource(state: VectorSearchState, index: EmulatedIndex): object {
  return {
    name: index.name,
    displayName: index.displayName,
    description: index.description,
    metadata: withoutKind(index.metadata),
    deployedIndexes: deployedRefs(state, index.name),
    labels: index.labels,
    createTime: timestamp(index.createTime),
    updateTime: timestamp(index.updateTime),
    indexStats: { vectorsCount: String([...index.datapoints.values()].filter((d) => d.vector.length > 0).length), sparseVectorsCount: String([...index.datapoints.values()].filter((d) => d.sparse).length), shardsCount: 1 },
    indexUpdateMethod: index.updateMethod,
  };
}

/** A Value as proto-loader decoded it carries its oneof case in `kind`, which an encoder does not want. */
function withoutKind(value: WireValue | null | undefined): unknown {
  if (!value) return null;
  if (value.structValue) return { structValue: { fields: Object.fromEntries(Object.entries(value.structValue.fields ?? {}).map(([key, field]) => [key, withoutKind(field)])) } };
  if (value.listValue) return { listValue: { values: (value.listValue.values ?? []).map(withoutKind) } };
  const { kind, ...rest } = value;
  void kind;
  return Object.fromEntries(Object.entries(rest).filter(([key, field]) => key === value.kind && field !== undefined && field !== null));
}
