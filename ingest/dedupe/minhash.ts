import { FNV_OFFSET, fnv1a32More, murmurMix32 } from "../hash32.js";
import { normalizeText } from "../normalize.js";

/**
 * MinHash signatures over word shingles, and LSH band keys, for near-duplicate
 * detection. Pure and deterministic: the same text always gives the same
 * signature, on any machine.
 */
export interface MinHashOptions {
  permutations: number;
  /** Words per shingle. */
  shingleWords: number;
  /** LSH bands; permutations / bands rows each. */
  bands: number;
}

const DEFAULT_MINHASH: MinHashOptions = { permutations: 128, shingleWords: 3, bands: 16 };

const seeds = new Map<number, Uint32Array>();
function seedsFor(count: number): Uint32Array {
  let cached = seeds.get(count);
  if (!cached) {
    cached = new Uint32Array(count);
    let state = 0x9e3779b9;
    for (let i = 0; i < count; i += 1) {
      state = (Math.imul(state ^ (state >>> 15), 0x2c1b3c6d) + 0x297a2d39) >>> 0;
      cached[i] = state;
    }
    seeds.set(count, cached);
  }
  return cached;
}

/** Word shingles of the normalised, lower-cased text, each hashed to 32 bits. */
export function shingleHashes(text: string, shingleWords: number): Uint32Array {
  const words = normalizeText(text).toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? [];
  if (words.length === 0) return new Uint32Array(0);
  const count = Math.max(1, words.length - shingleWords + 1);
  const out = new Set<number>();
  const last = Math.min(shingleWords, words.length);
  // The hash of the words joined by spaces, without building that string.
  for (let i = 0; i < count; i += 1) {
    let hash = fnv1a32More(FNV_OFFSET, words[i] as string);
    for (let j = 1; j < last; j += 1) hash = fnv1a32More(fnv1a32More(hash, " "), words[i + j] as string);
    out.add(hash);
  }
  return Uint32Array.from(out);
}

export function minhash(text: string, options: MinHashOptions = DEFAULT_MINHASH): Uint32Array {
  const shingles = shingleHashes(text, options.shingleWords);
  const perm = seedsFor(options.permutations);
  const signature = new Uint32Array(options.permutations).fill(0xffffffff);
  for (const shingle of shingles) {
    for (let i = 0; i < options.permutations; i += 1) {
      const value = murmurMix32((shingle ^ (perm[i] as number)) >>> 0);
      if (value < (signature[i] as number)) signature[i] = value;
    }
  }
  return signature;
}

/** Estimated Jaccard similarity: the share of positions where two signatures agree. */
export function similarity(a: Uint32Array, b: Uint32Array): number {
  if (a.length !== b.length || a.length === 0) return 0;
  let same = 0;
  for (let i = 0; i < a.length; i += 1) if (a[i] === b[i]) same += 1;
  return same / a.length;
}

/** One key per band: chunks that share any band key are candidates. */
export function bandKeys(signature: Uint32Array, bands: number): string[] {
  const rows = Math.floor(signature.length / bands);
  const keys: string[] = [];
  for (let band = 0; band < bands; band += 1) {
    let h = 0x811c9dc5 ^ band;
    for (let r = 0; r < rows; r += 1) h = Math.imul(h ^ (signature[band * rows + r] as number), 0x01000193) >>> 0;
    keys.push(`${band}:${h.toString(36)}`);
  }
  return keys;
}

export function encodeSignature(signature: Uint32Array): Buffer {
  return Buffer.from(signature.buffer, signature.byteOffset, signature.byteLength);
}

export function decodeSignature(bytes: Buffer): Uint32Array {
  const copy = new Uint8Array(bytes);
  return new Uint32Array(copy.buffer, 0, Math.floor(copy.byteLength / 4));
}
