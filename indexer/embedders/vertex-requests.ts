import { VERTEX_MODEL_DIMENSIONS } from "../../config/schema.js";
import type { EmbedderIdentity } from "./embedder.js";

/**
 * What the Vertex embedder needs to know about a model, and how it splits a
 * batch of texts into requests: pure functions, tested without a server.
 *
 * Limits documented at
 * https://cloud.google.com/vertex-ai/generative-ai/docs/embeddings/get-text-embeddings:
 * up to 250 texts and 20,000 tokens per request (one text for Gemini embedding
 * models), 2048 tokens per text, and an output of up to 768 dimensions
 * (text-embedding-005, text-multilingual-embedding-002) or 3072
 * (gemini-embedding-001).
 */
export interface VertexModelLimits {
  /** Largest outputDimensionality; undefined for a model ragops does not know (the service says). */
  maxDimensions: number | undefined;
  maxTextsPerRequest: number;
  /** Tokens per text, by Vertex's count. */
  maxInputTokens: number;
  /** Tokens of all the texts of one request, by Vertex's count. */
  maxRequestTokens: number;
}

const MAX_TEXTS = 250;
const MAX_INPUT_TOKENS = 2048;
const MAX_REQUEST_TOKENS = 20_000;

export function vertexModelLimits(model: string): VertexModelLimits {
  return {
    maxDimensions: VERTEX_MODEL_DIMENSIONS[model], // config checks embedder.dimensions against it at start
    maxTextsPerRequest: model.startsWith("gemini-") ? 1 : MAX_TEXTS,
    maxInputTokens: MAX_INPUT_TOKENS,
    maxRequestTokens: MAX_REQUEST_TOKENS,
  };
}

/**
 * Provider, model, the model's version and dimensions: vectors of two
 * identities never meet in one index or cache entry.
 *
 * Google versions publisher models in their names (text-embedding-005,
 * gemini-embedding-001, or the older name@003); a name without a version is
 * "unpinned", as the model behind it may change. If ragops ever changes what it
 * sends for a text (a title, other task types), that changes the vectors too:
 * add a suffix to the version here so old vectors are not mixed with new.
 */
export function vertexEmbedderIdentity(model: string, dimensions: number): EmbedderIdentity {
  const version = /@(\w+)$/.exec(model)?.[1] ?? /-(\d{3})$/.exec(model)?.[1] ?? "unpinned";
  return { provider: "vertex", model, version, dimensions };
}

/**
 * Texts (by their token counts) grouped into requests, in order: a request
 * takes the next text while it stays within maxTexts and maxTokens. A text
 * over maxTokens on its own gets a request to itself.
 */
export function planRequests(tokenCounts: readonly number[], limits: { maxTexts: number; maxTokens: number }): number[][] {
  const requests: number[][] = [];
  let current: number[] = [];
  let tokens = 0;
  tokenCounts.forEach((count, i) => {
    if (current.length > 0 && (current.length >= limits.maxTexts || tokens + count > limits.maxTokens)) {
      requests.push(current);
      current = [];
      tokens = 0;
    }
    current.push(i);
    tokens += count;
  });
  if (current.length > 0) requests.push(current);
  return requests;
}
