import { grpc } from "google-gax";
import { embedText } from "../../../indexer/embedders/offline-hashing.js";
import { countTokens as countRagopsTokens, truncateToTokens } from "../../../ingest/tokenizer.js";
import { EmulatorError } from "./emulator-error.js";
import type { EmulatedService } from "./grpc-server.js";
import { fromWireValue, toWireValue, type WireValue } from "./values.js";

/**
 * google.cloud.aiplatform.v1.PredictionService, Predict only, for Google's
 * publisher text-embedding models, with the documented request limits
 * (https://cloud.google.com/vertex-ai/generative-ai/docs/embeddings/get-text-embeddings):
 * at most 250 instances and 20,000 tokens per request, one instance for
 * gemini-embedding-001, 2048 tokens per input (refused when autoTruncate is
 * false, cut otherwise), outputDimensionality up to the model's size.
 *
 * The limits are written out here on purpose, not shared with the adapter
 * (indexer/embedders/vertex-requests.ts): a wrong number there shows up as a
 * refusal here instead of passing both.
 *
 * Vectors are deterministic: the offline hashing embedder's vector of the
 * content (after the title and a newline, when there is a title) at the asked
 * dimensions, so tests can check values. Tokens are counted with ragops'
 * tokenizer unless the emulator is given another counter (Vertex's tokenizer
 * is not ragops'; a counter that counts more shows what the adapter's safety
 * margin is for).
 */
export interface EmulatedEmbeddingModel {
  maxDimensions: number;
  /** Instances per request. */
  maxInstances: number;
  /** Tokens per input. */
  maxInputTokens: number;
}

export const EMULATED_EMBEDDING_MODELS: Readonly<Record<string, EmulatedEmbeddingModel>> = {
  "text-embedding-005": { maxDimensions: 768, maxInstances: 250, maxInputTokens: 2048 },
  "text-embedding-004": { maxDimensions: 768, maxInstances: 250, maxInputTokens: 2048 },
  "text-multilingual-embedding-002": { maxDimensions: 768, maxInstances: 250, maxInputTokens: 2048 },
  "gemini-embedding-001": { maxDimensions: 3072, maxInstances: 1, maxInputTokens: 2048 },
};

/** Tokens of all the inputs of one request. */
export const MAX_REQUEST_TOKENS = 20_000;

const TASK_TYPES = new Set(["RETRIEVAL_QUERY", "RETRIEVAL_DOCUMENT", "SEMANTIC_SIMILARITY", "CLASSIFICATION", "CLUSTERING", "QUESTION_ANSWERING", "FACT_VERIFICATION", "CODE_RETRIEVAL_QUERY"]);

export interface PredictionServiceOptions {
  /** How the emulator counts tokens. @defaultValue ragops' tokenizer (ingest/tokenizer.ts) */
  countTokens?: (text: string) => number;
}

/** One Predict request as the emulator read it, served or refused. */
export interface PredictRecord {
  endpoint: string;
  /** The model's name, e.g. text-embedding-005. */
  model: string;
  instances: { content: string; taskType: string | undefined; title: string | undefined; tokens: number }[];
  parameters: Record<string, unknown>;
  /** Tokens of the whole request, by the emulator's count. */
  tokens: number;
  /** Why the request was refused (INVALID_ARGUMENT or NOT_FOUND details); absent when it was served. */
  refused?: string;
}

export interface EmulatedPredictionService extends EmulatedService {
  /** Every Predict request that got past the fault injector, in arrival order. */
  readonly requests: PredictRecord[];
}

interface PredictRequestWire {
  endpoint: string;
  instances: WireValue[];
  parameters?: WireValue | null;
}

const PUBLISHER_MODEL = /^projects\/[^/]+\/locations\/[^/]+\/publishers\/google\/models\/([^/@]+)(?:@[^/]+)?$/;

export function predictionService(options: PredictionServiceOptions = {}): EmulatedPredictionService {
  const count = options.countTokens ?? countRagopsTokens;
  const requests: PredictRecord[] = [];

  const predict = async (request: PredictRequestWire) => {
    const name = PUBLISHER_MODEL.exec(request.endpoint)?.[1];
    const instances = request.instances.map((value) => fromWireValue(value));
    const parameters = asRecord(fromWireValue(request.parameters)) ?? {};
    const read = instances.map((instance) => {
      const fields = asRecord(instance) ?? {};
      const content = typeof fields.content === "string" ? fields.content : "";
      const title = typeof fields.title === "string" ? fields.title : undefined;
      return { content, taskType: typeof fields.task_type === "string" ? fields.task_type : undefined, title, tokens: count(content) + (title ? count(title) : 0), fields };
    });
    const record: PredictRecord = {
      endpoint: request.endpoint,
      model: name ?? "",
      instances: read.map(({ content, taskType, title, tokens }) => ({ content, taskType, title, tokens })),
      parameters,
      tokens: read.reduce((sum, i) => sum + i.tokens, 0),
    };
    requests.push(record);
    const refuse = (code: grpc.status, message: string): never => {
      record.refused = message;
      throw new EmulatorError(code, message);
    };

    if (name === undefined) refuse(grpc.status.NOT_FOUND, `Endpoint ${request.endpoint} not found: the emulator serves Google's publisher embedding models, projects/<project>/locations/<location>/publishers/google/models/<model>`);
    const model = EMULATED_EMBEDDING_MODELS[name as string] ?? refuse(grpc.status.NOT_FOUND, `Publisher Model \`${request.endpoint}\` not found.`);
    if (read.length === 0) refuse(grpc.status.INVALID_ARGUMENT, "At least one instance is required.");
    if (read.length > model.maxInstances) {
      refuse(grpc.status.INVALID_ARGUMENT, model.maxInstances === 1 ? `${name} accepts only one instance per request; this request has ${read.length}.` : `A request holds at most ${model.maxInstances} instances; this request has ${read.length}.`);
    }
    const autoTruncate = parameters.autoTruncate ?? true;
    if (typeof autoTruncate !== "boolean") refuse(grpc.status.INVALID_ARGUMENT, "parameters.autoTruncate must be a boolean.");
    const dimensions = parameters.outputDimensionality ?? model.maxDimensions;
    if (typeof dimensions !== "number" || !Number.isInteger(dimensions) || dimensions < 1 || dimensions > model.maxDimensions) {
      refuse(grpc.status.INVALID_ARGUMENT, `parameters.outputDimensionality must be an integer from 1 to ${model.maxDimensions} for ${name}; got ${JSON.stringify(dimensions)}.`);
    }
    read.forEach((instance, i) => {
      if (typeof instance.fields.content !== "string") refuse(grpc.status.INVALID_ARGUMENT, `instances[${i}].content must be a string.`);
      if (instance.taskType !== undefined && !TASK_TYPES.has(instance.taskType)) refuse(grpc.status.INVALID_ARGUMENT, `instances[${i}].task_type ${instance.taskType} is not a task type.`);
      if (instance.title !== undefined && instance.taskType !== "RETRIEVAL_DOCUMENT") refuse(grpc.status.INVALID_ARGUMENT, `instances[${i}].title is only valid with task_type RETRIEVAL_DOCUMENT.`);
    });
    if (record.tokens > MAX_REQUEST_TOKENS) {
      refuse(grpc.status.INVALID_ARGUMENT, `Unable to submit request because the input token count is ${record.tokens} but the model supports up to ${MAX_REQUEST_TOKENS}. Reduce the input token count and try again.`);
    }
    read.forEach((instance, i) => {
      if (!autoTruncate && instance.tokens > model.maxInputTokens) {
        refuse(grpc.status.INVALID_ARGUMENT, `Unable to submit request because instances[${i}] has ${instance.tokens} input tokens but the model supports up to ${model.maxInputTokens}. Reduce the input token count, or set autoTruncate to true.`);
      }
    });

    return {
      predictions: read.map((instance) => {
        const input = instance.title ? `${instance.title}\n${instance.content}` : instance.content;
        const kept = instance.tokens > model.maxInputTokens ? truncate(input, model.maxInputTokens, count) : { text: input, tokens: instance.tokens };
        const statistics = { token_count: kept.tokens, truncated: kept.text !== input };
        return toWireValue({ embeddings: { values: embedText(kept.text, dimensions as number), statistics } });
      }),
      deployedModelId: "",
    };
  };

  return { name: "google.cloud.aiplatform.v1.PredictionService", protoFile: "google/cloud/aiplatform/v1/prediction_service.proto", methods: { Predict: predict }, requests };
}

function asRecord(value: unknown): Record<string, unknown> | undefined {
  return typeof value === "object" && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : undefined;
}

/** The longest beginning of `text` within `maxTokens` by `count`. */
function truncate(text: string, maxTokens: number, count: (text: string) => number): { text: string; tokens: number } {
  if (count === countRagopsTokens) return truncateToTokens(text, maxTokens);
  let low = 0;
  let high = text.length;
  while (low < high) {
    const mid = Math.ceil((low + high) / 2);
    if (count(text.slice(0, mid)) <= maxTokens) low = mid;
    else high = mid - 1;
  }
  return { text: text.slice(0, low), tokens: count(text.slice(0, low)) };
}
