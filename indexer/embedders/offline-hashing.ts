import { fnv1a32, murmurMix32 } from "../../ingest/hash32.js";
import type { Embedder, EmbedderIdentity } from "./embedder.js";

/**
 * An embedder that needs no model and no network: signed feature hashing of
 * word unigrams and bigrams with sub-linear term weights, L2-normalised.
 *
 * Good for: lexical similarity (shared words and word pairs), deterministic
 * tests and demos, benchmarks that must count embedding calls.
 * Not good for: meaning. Synonyms, paraphrases and other languages do not meet.
 */
export interface OfflineHashingOptions {
  dimensions: number;
}

const MODEL = "hashing-unigram-bigram";
const VERSION = "1";
const BIGRAM_WEIGHT = 0.6;

// Function words carry no topic; without corpus statistics (IDF) they would dominate every vector.
const STOPWORDS = new Set(
  (
    "a about above after again against all am an and any are as at be because been before being below between both but by " +
    "can could did do does doing down during each few for from further had has have having he her here hers herself him " +
    "himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other " +
    "our ours ourselves out over own same she should so some such than that the their theirs them themselves then there " +
    "these they this those through to too under until up very was we were what when where which while who whom why will " +
    "with would you your yours yourself yourselves"
  ).split(" "),
);

export function createOfflineHashingEmbedder(options: OfflineHashingOptions): Embedder {
  const identity: EmbedderIdentity = { provider: "offline", model: MODEL, version: VERSION, dimensions: options.dimensions };
  return {
    identity,
    // Symmetric: queries and documents share one space, so `purpose` changes nothing here.
    embed: async (texts) => texts.map((text) => embedText(text, options.dimensions)),
  };
}

function tokenizeForHashing(text: string): string[] {
  const words = text.normalize("NFKC").toLowerCase().match(/[\p{L}\p{N}]+(?:['’][\p{L}]+)?/gu) ?? [];
  return words.filter((word) => !STOPWORDS.has(word));
}

export function embedText(text: string, dimensions: number): Float32Array {
  const tokens = tokenizeForHashing(text);
  const counts = new Map<string, number>();
  const add = (feature: string) => counts.set(feature, (counts.get(feature) ?? 0) + 1);
  for (let i = 0; i < tokens.length; i += 1) {
    add(`u:${tokens[i]}`);
    if (i > 0) add(`b:${tokens[i - 1]} ${tokens[i]}`);
  }
  const vector = new Float32Array(dimensions);
  if (counts.size === 0) {
    vector[0] = 1; // a fixed unit vector, so empty text still has a defined cosine
    return vector;
  }
  for (const [feature, count] of counts) {
    const hash = fnv1a32(feature);
    const slot = hash % dimensions;
    // A second, independent bit for the sign (bit 7 of the mixed hash; fixed by embedder version 1).
    const sign = (murmurMix32(hash) >>> 7) & 1 ? 1 : -1;
    const weight = (1 + Math.log(count)) * (feature.startsWith("b:") ? BIGRAM_WEIGHT : 1);
    vector[slot] = (vector[slot] ?? 0) + sign * weight;
  }
  let norm = 0;
  for (const value of vector) norm += value * value;
  norm = Math.sqrt(norm);
  if (norm === 0) {
    vector[0] = 1; // every feature cancelled out by sign collisions
    return vector;
  }
  for (let i = 0; i < dimensions; i += 1) vector[i] = (vector[i] ?? 0) / norm;
  return vector;
}
