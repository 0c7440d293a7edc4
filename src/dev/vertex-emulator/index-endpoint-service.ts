import { grpc } from "google-gax";
import { EmulatorError } from "./emulator-error.js";
import type { EmulatedService } from "./grpc-server.js";
import { genericMetadata, timestamp } from "./operations.js";
import { checkParent, findEndpoint, findIndex, type DeployedIndexState, type EmulatedEndpoint, type VectorSearchState } from "./vector-search-state.js";

/**
 * google.cloud.aiplatform.v1.IndexEndpointService: createIndexEndpoint,
 * getIndexEndpoint, deployIndex and undeployIndex. A deployment shows on the
 * endpoint (and MatchService serves it) once its operation finishes; its id is
 * checked as Vertex checks it (a letter, then letters, digits or '_', at most
 * 128) and must be free on the endpoint, counting deployments still running.
 */
const V1 = "google.cloud.aiplatform.v1";
const DEPLOYED_INDEX_ID = /^[A-Za-z][A-Za-z0-9_]{0,127}$/;

export function indexEndpointService(state: VectorSearchState): EmulatedService {
  const createIndexEndpoint = async (request: { parent: string; indexEndpoint: { displayName: string; description: string; publicEndpointEnabled: boolean } | null }) => {
    checkParent(request.parent);
    const given = request.indexEndpoint;
    if (!given?.displayName) throw new EmulatorError(grpc.status.INVALID_ARGUMENT, "IndexEndpoint.display_name is required.");
    const id = state.nextId();
    const name = `${request.parent}/indexEndpoints/${id}`;
    const [, project, , location] = request.parent.split("/");
    return state.operations.start({
      method: "CreateIndexEndpoint",
      resource: name,
      metadataType: `${V1}.CreateIndexEndpointOperationMetadata`,
      metadata: { genericMetadata: genericMetadata() },
      finish: () => {
        const now = new Date();
        const endpoint: EmulatedEndpoint = { name, displayName: given.displayName, publicEndpointDomainName: given.publicEndpointEnabled ? `${id}.${location}-${project}.vdb.vertexai.goog` : "", deployed: new Map(), createTime: now, updateTime: now };
        state.endpoints.set(name, endpoint);
        return { type: `${V1}.IndexEndpoint`, response: endpointResource(endpoint) };
      },
    });
  };

  const getIndexEndpoint = async (request: { name: string }) => endpointResource(findEndpoint(state, request.name));

  const deployIndex = async (request: { indexEndpoint: string; deployedIndex: { id: string; index: string; displayName: string } | null }) => {
    const endpoint = findEndpoint(state, request.indexEndpoint);
    const given = request.deployedIndex;
    if (!given || !DEPLOYED_INDEX_ID.test(given.id)) {
      throw new EmulatorError(grpc.status.INVALID_ARGUMENT, `DeployedIndex.id must start with a letter and hold only letters, numbers and underscores (at most 128); got "${given?.id ?? ""}".`);
    }
    if (endpoint.deployed.has(given.id) || state.operations.pending(`DeployIndex:${given.id}`, endpoint.name) > 0) {
      throw new EmulatorError(grpc.status.ALREADY_EXISTS, `DeployedIndex with id ${given.id} already exists in IndexEndpoint \`${endpoint.name}\`.`);
    }
    findIndex(state, given.index);
    return state.operations.start({
      method: `DeployIndex:${given.id}`,
      resource: endpoint.name,
      metadataType: `${V1}.DeployIndexOperationMetadata`,
      metadata: { genericMetadata: genericMetadata(), deployedIndexId: given.id },
      finish: () => {
        findIndex(state, given.index);
        const deployed: DeployedIndexState = { id: given.id, index: given.index, displayName: given.displayName, createTime: new Date() };
        endpoint.deployed.set(given.id, deployed);
        endpoint.updateTime = new Date();
        return { type: `${V1}.DeployIndexResponse`, response: { deployedIndex: deployedResource(deployed) } };
      },
    });
  };

  const undeployIndex = async (request: { indexEndpoint: string; deployedIndexId: string }) => {
    const endpoint = findEndpoint(state, request.indexEndpoint);
    if (!endpoint.deployed.has(request.deployedIndexId) || state.operations.pending(`UndeployIndex:${request.deployedIndexId}`, endpoint.name) > 0) {
      throw new EmulatorError(grpc.status.NOT_FOUND, `DeployedIndex ${request.deployedIndexId} is not found in IndexEndpoint \`${endpoint.name}\`.`);
    }
    return state.operations.start({
      method: `UndeployIndex:${request.deployedIndexId}`,
      resource: endpoint.name,
      metadataType: `${V1}.UndeployIndexOperationMetadata`,
      metadata: { genericMetadata: genericMetadata() },
      finish: () => {
        endpoint.deployed.delete(request.deployedIndexId);
        endpoint.updateTime = new Date();
        return { type: `${V1}.UndeployIndexResponse`, response: {} };
      },
    });
  };

  return {
    name: `${V1}.IndexEndpointService`,
    protoFile: "google/cloud/aiplatform/v1/index_endpoint_service.proto",
    methods: { CreateIndexEndpoint: createIndexEndpoint, GetIndexEndpoint: getIndexEndpoint, DeployIndex: deployIndex, UndeployIndex: undeployIndex },
  };
}

function deployedResource(deployed: DeployedIndexState): object {
  return { id: deployed.id, index: deployed.index, displayName: deployed.displayName, createTime: timestamp(deployed.createTime), indexSyncTime: timestamp(new Date()) };
}

function endpointResource(endpoint: EmulatedEndpoint): object {
  return {
    name: endpoint.name,
    displayName: endpoint.displayName,
    deployedIndexes: [...endpoint.deployed.values()].map(deployedResource),
    createTime: timestamp(endpoint.createTime),
    updateTime: timestamp(endpoint.updateTime),
    publicEndpointEnabled: endpoint.publicEndpointDomainName !== "",
    publicEndpointDomainName: endpoint.publicEndpointDomainName,
  };
}
