/** A vector per id, a function of the id and a seed only: the same text always gives the same vector, in any process. */
export function vectorFor(id: string, dims: number, seed = 0): Float32Array {
  const v = new Float32Array(dims);
  let h = 2166136261 ^ seed;
  for (const ch of id) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  for (let i = 0; i < dims; i += 1) {
    h = Math.imul(h ^ (h >>> 15), 2246822507);
    v[i] = ((h >>> 8) / 2 ** 24 - 0.5) * 0.3;
  }
  return v;
}
