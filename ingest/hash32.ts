/** Small, fast, deterministic 32-bit hashes for feature hashing and MinHash (not for identity: that is sha-256). */

export const FNV_OFFSET = 0x811c9dc5;

export function fnv1a32(text: string): number {
  return fnv1a32More(FNV_OFFSET, text);
}

/** FNV-1a of whatever was hashed into `hash`, followed by `text`: fnv1a32(a + b) === fnv1a32More(fnv1a32(a), b). */
export function fnv1a32More(hash: number, text: string): number {
  let h = hash;
  for (let i = 0; i < text.length; i += 1) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The murmur3 finaliser: spreads every input bit over the output. */
export function murmurMix32(value: number): number {
  let h = value;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}
