import type { helpers as aiplatformHelpers, protos, v1 } from "@google-cloud/aiplatform";
import { z } from "zod";
import { InvalidRequestError, RagopsError } from "../../core/errors.js";
import { mapBounded } from "../../core/pool.js";
import { withRetries } from "../../core/retry.js";
import { truncateToTokens, type Truncated } from "../../ingest/tokenizer.js";
import { vertexClientOptions } from "../vertex/client-options.js";
import { GrpcCode, grpcFailure, isRetriedGrpcFailure, vertexError } from "../vertex/grpc-status.js";
import type { Embedder, EmbedPurpose } from "./embedder.js";
import { planRequests, vertexEmbedderIdentity, vertexModelLimits } from "./vertex-requests.js";

/**
 * Vertex AI text embeddings (text-embedding-005, gemini-embedding-001, or
 * another publisher model by name) through PredictionService.Predict.
 *
 * - Documents are embedded as RETRIEVAL_DOCUMENT, queries as RETRIEVAL_QUERY.
 *   No title is sent: the port hands over text only, and a vector must depend
 *   on the text alone (the embedding cache keys it by the text's hash, and a
 *   chunk shared by two documents is embedded once). A chunk's text already
 *   starts with its heading path.
 * - autoTruncate is false, so Vertex never cuts a text silently. Texts are
 *   counted with ragops' tokenizer (gpt-tokenizer, o200k_base); Vertex's
 *   tokenizer is another one and may count more, so ragops fills only
 *   `tokenBudgetRatio` of the model's limits by its own count: a text longer
 *   than that share of the 2048-token input limit is cut to it here (the port
 *   asks for truncation, not refusal), and requests hold at most 250 texts (1
 *   for Gemini models) and that share of 20,000 tokens.
 * - Requests of one call run `requestConcurrency` at a time. RESOURCE_EXHAUSTED,
 *   UNAVAILABLE and DEADLINE_EXCEEDED are retried with jittered exponential
 *   backoff, up to `maxAttempts` attempts; then a retryable error, so the job
 *   can try again later. INVALID_ARGUMENT is not retried: the same request
 *   would be refused again.
 * - The client is made, and @google-cloud/aiplatform loaded, on the first call:
 *   with Application Default Credentials against the regional endpoint, or
 *   without credentials against an http:// emulator (gcp.vertexApiEndpoint).
 */
export interface VertexEmbedderOptions {
  project: string;
  location: string;
  /** See indexer/vertex/client-options.ts. */
  vertexApiEndpoint?: string | undefined;
  /** Publisher model, e.g. text-embedding-005. */
  model: string;
  /** outputDimensionality. */
  dimensions: number;
  /** Requests one embed call has in flight. @defaultValue 4 */
  requestConcurrency?: number;
  /** Attempts per request when Vertex answers RESOURCE_EXHAUSTED, UNAVAILABLE or DEADLINE_EXCEEDED, the first included. @defaultValue 5 */
  maxAttempts?: number;
  /** Ceiling of the first backoff, ms; doubles per retry. @defaultValue 1000 */
  retryBaseDelayMs?: number;
  /** Longest backoff, ms. @defaultValue 30000 */
  retryMaxDelayMs?: number;
  /** Deadline of one request, ms. @defaultValue 60000 */
  timeoutMs?: number;
  /** Share of the model's token limits (per text, per request) ragops fills by its own count. @defaultValue 0.75 */
  tokenBudgetRatio?: number;
}

/** The adapter owns a gRPC client: close it when the process is done with the embedder. */
export interface VertexEmbedder extends Embedder {
  close(): Promise<void>;
}

type PredictionClient = InstanceType<typeof v1.PredictionServiceClient>;
interface Driver {
  client: PredictionClient;
  helpers: typeof aiplatformHelpers;
}

const TASK_TYPES: Record<EmbedPurpose, string> = { document: "RETRIEVAL_DOCUMENT", query: "RETRIEVAL_QUERY" };

export function createVertexEmbedder(options: VertexEmbedderOptions): VertexEmbedder {
  const identity = vertexEmbedderIdentity(options.model, options.dimensions);
  const limits = vertexModelLimits(options.model);
  if (limits.maxDimensions !== undefined && options.dimensions > limits.maxDimensions) {
    throw new InvalidRequestError(`${options.model} makes at most ${limits.maxDimensions} dimensions; embedder.dimensions is ${options.dimensions}`);
  }
  const ratio = options.tokenBudgetRatio ?? 0.75;
  const inputBudget = Math.floor(limits.maxInputTokens * ratio);
  const requestBudget = Math.floor(limits.maxRequestTokens * ratio);
  const endpoint = `projects/${options.project}/locations/${options.location}/publishers/google/models/${options.model}`;
  const predictionSchema = z.object({ embeddings: z.object({ values: z.array(z.number()).length(options.dimensions) }) });
  const retry = {
    maxAttempts: options.maxAttempts ?? 5,
    baseDelayMs: options.retryBaseDelayMs ?? 1_000,
    maxDelayMs: options.retryMaxDelayMs ?? 30_000,
    isRetryable: isRetriedGrpcFailure,
  };

  let driver: Promise<Driver> | undefined;
  const load = (): Promise<Driver> => {
    if (!driver) {
      const loading = (async () => {
        const { v1: clients, helpers } = await import("@google-cloud/aiplatform");
        return { client: new clients.PredictionServiceClient(await vertexClientOptions(options)), helpers };
      })();
      // A failed load is tried again by the next call.
      loading.catch(() => {
        if (driver === loading) driver = undefined;
      });
      driver = loading;
    }
    return driver;
  };

  const predict = async (inputs: readonly Truncated[], purpose: EmbedPurpose): Promise<Float32Array[]> => {
    const { client, helpers } = await load();
    const toValue = (value: object) => helpers.toValue(value) as protos.google.protobuf.IValue;
    const [response] = await client.predict(
      {
        endpoint,
        instances: inputs.map((input) => toValue({ content: input.text, task_type: TASK_TYPES[purpose] })),
        parameters: toValue({ autoTruncate: false, outputDimensionality: options.dimensions }),
      },
      { timeout: options.timeoutMs ?? 60_000 },
    );
    const predictions = response.predictions ?? [];
    if (predictions.length !== inputs.length) throw new RagopsError("internal", `Vertex AI answered ${predictions.length} predictions for ${inputs.length} texts (${options.model})`);
    return predictions.map((prediction, i) => {
      const parsed = predictionSchema.safeParse(helpers.fromValue(prediction as Parameters<typeof helpers.fromValue>[0]));
      if (!parsed.success) throw new RagopsError("internal", `Vertex AI answered text ${i} with no ${options.dimensions}-dimension embedding (${options.model}): ${parsed.error.issues[0]?.message ?? "unreadable"}`);
      return Float32Array.from(parsed.data.embeddings.values);
    });
  };

  const embedRequest = async (inputs: readonly Truncated[], purpose: EmbedPurpose): Promise<Float32Array[]> => {
    let attempts = 0;
    try {
      return await withRetries((n) => {
        attempts = n;
        return predict(inputs, purpose);
      }, retry);
    } catch (error) {
      if (error instanceof RagopsError) throw error;
      const what = `embedding ${inputs.length} text(s) with ${options.model}`;
      if (grpcFailure(error)?.code === GrpcCode.INVALID_ARGUMENT) throw refused(error, inputs);
      throw vertexError(error, what, attempts);
    }
  };

  /** INVALID_ARGUMENT, explained with what ragops sent. */
  const refused = (error: unknown, inputs: readonly Truncated[]): RagopsError => {
    const details = grpcFailure(error)?.details ?? "";
    const tokens = inputs.reduce((sum, input) => sum + input.tokens, 0);
    const longest = Math.max(...inputs.map((input) => input.tokens));
    const said = `Vertex AI refused an embedding request to ${options.model} (INVALID_ARGUMENT: ${details})`;
    const message = /token/i.test(details)
      ? `${said}. The request held ${inputs.length} text(s), ${tokens} tokens by ragops' count, the longest ${longest}. Vertex counts tokens differently from ragops, which fills only ${Math.round(ratio * 100)}% of the model's limits (${limits.maxInputTokens} tokens per text, ${limits.maxRequestTokens} per request) by its own count: lower chunking.sizeTokens so chunks leave more room`
      : `${said}; not retried: the same request would be refused again`;
    return new InvalidRequestError(message, {
      cause: error,
      details: { grpcStatus: "INVALID_ARGUMENT", texts: inputs.length, tokens, longest },
    });
  };

  return {
    identity,
    embed: async (texts, { purpose }) => {
      if (texts.length === 0) return [];
      const inputs = texts.map((text) => truncateToTokens(text, inputBudget));
      const requests = planRequests(
        inputs.map((input) => input.tokens),
        { maxTexts: limits.maxTextsPerRequest, maxTokens: requestBudget },
      );
      const answers = await mapBounded(requests, options.requestConcurrency ?? 4, (request) => embedRequest(request.map((i) => inputs[i] as Truncated), purpose));
      return answers.flatMap((vectors) => vectors as Float32Array[]);
    },
    close: async () => {
      const loaded = driver;
      driver = undefined;
      if (loaded) await (await loaded.catch(() => undefined))?.client.close();
    },
  };
}
