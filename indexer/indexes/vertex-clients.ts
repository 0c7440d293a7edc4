import type { helpers as aiplatformHelpers, v1 } from "@google-cloud/aiplatform";
import { InvalidRequestError, RagopsError } from "../../core/errors.js";
import { withRetries, type RetryPolicy } from "../../core/retry.js";
import { vertexClientOptions, type VertexEndpointConfig } from "../vertex/client-options.js";
import { GrpcCode, grpcFailure, isRetriedGrpcFailure, vertexError } from "../vertex/grpc-status.js";

/**
 * The Vertex AI Vector Search clients one process shares (IndexService,
 * IndexEndpointService, MatchService), made on first use, and the one way
 * ragops calls them: retried with jittered backoff on RESOURCE_EXHAUSTED,
 * UNAVAILABLE and DEADLINE_EXCEEDED, then mapped to a RagopsError that says
 * what was being done and what to do about it.
 *
 * MatchService (findNeighbors, readIndexDatapoints) is served by the index
 * endpoint, not the regional API: on a public endpoint, by its
 * publicEndpointDomainName (read once from getIndexEndpoint), or by
 * `matchApiEndpoint` when given (a private endpoint's address); against an
 * http:// emulator, by the emulator.
 */
export interface VectorSearchEndpointConfig extends VertexEndpointConfig {
  /** Where MatchService calls go instead of the endpoint's public domain: https://host[:port] (TLS, ADC) or http://host:port (an emulator). */
  matchApiEndpoint?: string | undefined;
}

export type IndexClient = InstanceType<typeof v1.IndexServiceClient>;
export type EndpointClient = InstanceType<typeof v1.IndexEndpointServiceClient>;
export type MatchClient = InstanceType<typeof v1.MatchServiceClient>;

export interface VectorSearchClients {
  index: IndexClient;
  endpoint: EndpointClient;
  helpers: typeof aiplatformHelpers;
  /** The MatchService client for an index endpoint (resource name). */
  match(indexEndpoint: string): Promise<MatchClient>;
  close(): Promise<void>;
}

/** The clients, made on the first `get`; `close` closes them if they were made. */
export interface ClientsHandle {
  get(): Promise<VectorSearchClients>;
  close(): Promise<void>;
}

export function vectorSearchClients(config: VectorSearchEndpointConfig): ClientsHandle {
  let loaded: Promise<VectorSearchClients> | undefined;
  const get = () => {
    if (!loaded) {
      const loading = (async (): Promise<VectorSearchClients> => {
        const { v1: clients, helpers } = await import("@google-cloud/aiplatform");
        const options = await vertexClientOptions(config);
        const index = new clients.IndexServiceClient(options);
        const endpoint = new clients.IndexEndpointServiceClient(options);
        const matches = new Map<string, Promise<MatchClient>>();
        const matchEndpoint = async (indexEndpoint: string): Promise<string | undefined> => {
          if (config.matchApiEndpoint) return config.matchApiEndpoint;
          if (config.vertexApiEndpoint?.startsWith("http://")) return config.vertexApiEndpoint;
          const [resource] = await endpoint.getIndexEndpoint({ name: indexEndpoint });
          return resource.publicEndpointDomainName ? `https://${resource.publicEndpointDomainName}` : undefined;
        };
        return {
          index,
          endpoint,
          helpers,
          match: (indexEndpoint) => {
            let found = matches.get(indexEndpoint);
            if (!found) {
              found = (async () => {
                const where = await matchEndpoint(indexEndpoint);
                return new clients.MatchServiceClient(where ? await vertexClientOptions({ location: config.location, vertexApiEndpoint: where }) : options);
              })();
              found.catch(() => matches.delete(indexEndpoint));
              matches.set(indexEndpoint, found);
            }
            return found;
          },
          close: async () => {
            const opened = await Promise.all([...matches.values()].map((m) => m.catch(() => undefined)));
            await Promise.all([index.close(), endpoint.close(), ...opened.map((m) => m?.close())]);
          },
        };
      })();
      loading.catch(() => {
        if (loaded === loading) loaded = undefined;
      });
      loaded = loading;
    }
    return loaded;
  };
  return {
    get,
    close: async () => {
      const opened = loaded;
      loaded = undefined;
      if (opened) await (await opened.catch(() => undefined))?.close();
    },
  };
}

export interface CallPolicy extends RetryPolicy {
  /** Deadline of one attempt, ms. */
  timeoutMs: number;
}

/**
 * One Vertex call, retried as the module says. `what` names it for errors
 * ("writing 100 datapoints to index projects/.../indexes/123").
 * INVALID_ARGUMENT is an InvalidRequestError (never retried: the same request
 * would be refused again), FAILED_PRECONDITION and ALREADY_EXISTS non-retryable
 * errors with the service's words.
 */
export async function vectorSearchCall<T>(what: string, policy: CallPolicy, call: (options: { timeout: number }) => Promise<T>): Promise<T> {
  let attempts = 0;
  try {
    return await withRetries(
      (n) => {
        attempts = n;
        return call({ timeout: policy.timeoutMs });
      },
      { ...policy, isRetryable: isRetriedGrpcFailure },
    );
  } catch (error) {
    throw vectorSearchError(error, what, attempts);
  }
}

export function vectorSearchError(error: unknown, what: string, attempts: number): RagopsError {
  if (error instanceof RagopsError) return error;
  const failure = grpcFailure(error);
  if (failure?.code === GrpcCode.INVALID_ARGUMENT) {
    return new InvalidRequestError(`Vertex AI refused ${what} (INVALID_ARGUMENT: ${failure.details}); not retried: the same request would be refused again`, { cause: error, details: { grpcStatus: failure.status } });
  }
  if (failure?.code === GrpcCode.FAILED_PRECONDITION || failure?.code === GrpcCode.ALREADY_EXISTS) {
    return new RagopsError("conflict", `Vertex AI refused ${what} (${failure.status}: ${failure.details})`, { cause: error, details: { grpcStatus: failure.status } });
  }
  return vertexError(error, what, attempts, {
    quota: "Vector Search stream updates are limited per region (quota MatchingEngineStreamUpdateThroughput): lower gcp.vectorSearch.upsertBatchSize or requestConcurrency, or ask Google for more quota",
    notFound: "check gcp.project, gcp.location and gcp.vectorSearch.indexEndpoint, and that the index version's Vertex index still exists (ragops index show <version>)",
  });
}
