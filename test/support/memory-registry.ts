import type { ChunkRecord, ChunkStore } from "../../indexer/sync/chunk-store.js";
import type { ChunkRegistry, DocMeta } from "../../indexer/sync/registry.js";

/**
 * The chunk registry's semantics on Maps (registry.ts, without Redis or
 * fencing): a test double for the pure steps around it.
 */
export interface MemoryRegistry extends ChunkRegistry {
  /** Everything it holds, in a form toEqual compares (sets as sorted arrays, empty sets left out). */
  state(): Record<string, unknown>;
}

export function memoryRegistry(): MemoryRegistry {
  const ref = new Map<string, Set<string>>();
  const docrefs = new Map<string, Set<string>>();
  const sig = new Map<string, Uint32Array>();
  const lsh = new Map<string, Set<string>>();
  const dupof = new Map<string, string>();
  const dups = new Map<string, Set<string>>();
  const docmeta = new Map<string, DocMeta>();
  const setOf = (map: Map<string, Set<string>>, key: string) => {
    let set = map.get(key);
    if (!set) map.set(key, (set = new Set()));
    return set;
  };
  const copy = (set: Set<string> | undefined) => new Set(set ?? []);
  const markCanonical = (hash: string, signature: Uint32Array, bands: readonly string[]) => {
    sig.set(hash, signature);
    for (const band of bands) setOf(lsh, band).add(hash);
  };
  const unmarkDuplicate = (hash: string) => {
    const canonical = dupof.get(hash);
    if (canonical === undefined) return;
    dups.get(canonical)?.delete(hash);
    dupof.delete(hash);
  };
  const sorted = (map: Map<string, Set<string>>) => Object.fromEntries([...map].filter(([, set]) => set.size > 0).map(([key, set]) => [key, [...set].sort()]).sort());
  return {
    docRefs: async (documentId) => copy(docrefs.get(documentId)),
    refs: async (hashes) => new Map(hashes.map((h) => [h, copy(ref.get(h))])),
    dupOf: async (hashes) => new Map(hashes.flatMap((h): Array<[string, string]> => (dupof.has(h) ? [[h, dupof.get(h) as string]] : []))),
    dupsOf: async (canonical) => copy(dups.get(canonical)),
    signatures: async (hashes) => new Map(hashes.flatMap((h): Array<[string, Uint32Array]> => (sig.has(h) ? [[h, sig.get(h) as Uint32Array]] : []))),
    candidatesMany: async (bandLists) => bandLists.map((bands) => new Set(bands.flatMap((band) => [...(lsh.get(band) ?? [])]))),
    dupsOfMany: async (canonicals) => new Map(canonicals.map((c) => [c, copy(dups.get(c))])),
    addRefs: async (_lease, documentId, hashes) => {
      for (const h of hashes) {
        setOf(ref, h).add(documentId);
        setOf(docrefs, documentId).add(h);
      }
    },
    removeRef: async (_lease, documentId, hash) => {
      ref.get(hash)?.delete(documentId);
      docrefs.get(documentId)?.delete(hash);
    },
    removeRefs: async (_lease, documentId, hashes) => {
      for (const hash of hashes) {
        ref.get(hash)?.delete(documentId);
        docrefs.get(documentId)?.delete(hash);
      }
    },
    markCanonical: async (_lease, hash, signature, bands) => markCanonical(hash, signature, bands),
    markCanonicalMany: async (_lease, items) => {
      for (const { hash, signature, bands } of items) markCanonical(hash, signature, bands);
    },
    unmarkCanonical: async (_lease, hash, bands) => {
      sig.delete(hash);
      for (const band of bands) lsh.get(band)?.delete(hash);
    },
    markDuplicate: async (_lease, hash, canonical) => {
      const old = dupof.get(hash);
      if (old !== undefined && old !== canonical) dups.get(old)?.delete(hash);
      dupof.set(hash, canonical);
      setOf(dups, canonical).add(hash);
    },
    unmarkDuplicate: async (_lease, hash) => unmarkDuplicate(hash),
    docMeta: async (documentIds) => new Map(documentIds.flatMap((d): Array<[string, DocMeta]> => (docmeta.has(d) ? [[d, docmeta.get(d) as DocMeta]] : []))),
    setDocMeta: async (_lease, documentId, meta) => {
      if (meta) docmeta.set(documentId, meta);
      else docmeta.delete(documentId);
    },
    clear: async () => {
      for (const map of [ref, docrefs, sig, lsh, dupof, dups, docmeta]) map.clear();
    },
    state: () => ({
      ref: sorted(ref),
      docrefs: sorted(docrefs),
      sig: Object.fromEntries([...sig].map(([h, s]) => [h, [...s]]).sort()),
      lsh: sorted(lsh),
      dupof: Object.fromEntries([...dupof].sort()),
      dups: sorted(dups),
      docmeta: Object.fromEntries([...docmeta].sort()),
    }),
  };
}

/** The chunk store's semantics on a Map. */
export function memoryChunkStore(): ChunkStore & { entries: Map<string, ChunkRecord> } {
  const entries = new Map<string, ChunkRecord>();
  return {
    entries,
    get: async (hashes) => new Map(hashes.flatMap((h): Array<[string, ChunkRecord]> => (entries.has(h) ? [[h, entries.get(h) as ChunkRecord]] : []))),
    put: async (_lease, records) => {
      for (const [h, record] of records) entries.set(h, record);
    },
    delete: async (_lease, hashes) => {
      for (const h of hashes) entries.delete(h);
    },
    count: async () => entries.size,
    scan: async function* () {
      if (entries.size > 0) yield new Map(entries);
    },
  };
}
