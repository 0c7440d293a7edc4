/**
 * Embedder port: texts in, one vector per text out, in the same order.
 *
 * The identity pins an index version: two indexes built with different
 * identities are never mixed, and cached vectors are keyed by it (see
 * ../embedding-cache.ts). test/conformance/embedder.ts holds every adapter to
 * this contract:
 *
 * - `identity` is fixed when the adapter is made, and every vector has
 *   `identity.dimensions` finite numbers, not all zero.
 * - `embed` returns one vector per text, in the order given, whatever the
 *   batch size (the caller sends at most `embedder.batchSize` texts; an adapter
 *   whose provider takes fewer per request splits them itself). An empty batch
 *   gives an empty answer.
 * - A text's vector depends on the text, the purpose and the identity only: not
 *   on its batch-mates, the call, concurrent calls or the adapter instance.
 *   Equal up to float noise is enough for a provider that is not bit-exact: the
 *   cache keeps one vector of a text (the last written when two jobs race), and
 *   old and new vectors of one text meet in one index.
 * - `purpose` says which side of retrieval a text is on. An adapter may embed
 *   the two differently (task types) or alike (symmetric models), but a query
 *   must land nearer a document that answers it than an unrelated one.
 * - A text longer than the model's input limit is truncated by the adapter (its
 *   vector stands for its beginning), never refused. Chunks are
 *   chunking.sizeTokens (1024 at most) with their heading context, and queries
 *   at most 8192 characters, so this only bites a model with a smaller limit.
 * - Calls may run concurrently (embedder.concurrency per job, plus searches).
 *
 * Left out on purpose: unit length (scores are cosine, so length does not
 * matter), empty texts (chunks and queries never are; an adapter may refuse
 * them), token counting and input limits (truncation is the adapter's),
 * retries and rate limits (the adapter's; it throws a RagopsError whose
 * `retryable` says whether another attempt can help), cancellation, and
 * anything but text.
 */
export type EmbedPurpose = "document" | "query";

export interface EmbedderIdentity {
  provider: string;
  model: string;
  version: string;
  dimensions: number;
}

export interface EmbedOptions {
  purpose: EmbedPurpose;
}

export interface Embedder {
  readonly identity: EmbedderIdentity;
  embed(texts: readonly string[], options: EmbedOptions): Promise<Float32Array[]>;
  /** Releases what the adapter holds open (a gRPC client); absent when it holds nothing. */
  close?(): Promise<void>;
}
