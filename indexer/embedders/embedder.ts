/**
 * Embedder port: texts in, one vector per text out, in the same order.
 *
 * The identity pins an index version: two indexes built with different
 * identities are never mixed, and cached vectors are keyed by it.
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
}

export function identityKey(identity: EmbedderIdentity): string {
  return `${identity.provider}/${identity.model}@${identity.version}/${identity.dimensions}`;
}
