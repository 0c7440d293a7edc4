import { inSlices } from "../../core/yield.js";
import type { ChunkStore } from "./chunk-store.js";
import type { CorpusLease } from "./corpus-lock.js";
import type { ChunkRegistry } from "./registry.js";

/**
 * Canonical claims held back until the index holds what they claim.
 *
 * Marking a chunk canonical (its signature and LSH bands in the registry)
 * says "an index holds this chunk": a later near-copy is then linked to it
 * instead of being indexed itself. Written before the index write, a claim
 * outlived a write that failed for good, and a near-copy ingested later had
 * most of its chunks linked to chunks no index held (issue 15, finding 2).
 *
 * So the documents of a commit group claim through this overlay: a claim is
 * seen at once by the group (the next document's classification finds it,
 * as it would in Redis) but written to Redis only when the group settles,
 * after its index writes, and only if some index of the group is known to
 * hold the chunk. A claim that fails that test is dropped and compensated:
 * the chunk store entry written for it goes, and so do the references the
 * group added to it. Unlinking a claimed chunk from the chunk it duplicated
 * (a promotion) waits with the claim, so a dropped promotion leaves the
 * near-duplicate link it would have replaced.
 *
 * No Redis round trip is added: the claims of a group are written in one
 * pipeline per slice when it settles, instead of one per document.
 */
export interface HeldClaims {
  /** The registry as the group's documents see it: claims through it are visible to the group at once, in Redis once settled. */
  readonly registry: ChunkRegistry;
  /** Whose claims follow: the position in the group of the document now running. */
  setOwner(owner: number): void;
  /** The claims of a document whose work failed, that no index is known to hold: dropped. Returns their hashes, whose held-back datapoints must not be written. */
  dropOwner(owner: number, held: (hash: string) => boolean): string[];
  /** After the group's index writes: writes the claims some index holds, drops and compensates the rest. */
  settle(lease: CorpusLease, held: (hash: string) => boolean): Promise<SettledClaims>;
}

export interface SettledClaims {
  committed: string[];
  dropped: string[];
}

interface Claim {
  signature: Uint32Array;
  bands: readonly string[];
  owner: number;
}

/** Claims whose chunk no index holds: dropped; the others kept. Pure. */
export function partitionClaims<T>(claims: ReadonlyMap<string, T>, held: (hash: string) => boolean): { kept: string[]; dropped: string[] } {
  const kept: string[] = [];
  const dropped: string[] = [];
  for (const hash of claims.keys()) (held(hash) ? kept : dropped).push(hash);
  return { kept, dropped };
}

/** Hashes per Redis pipeline when claims are written. */
const SLICE = 1_000;

export function holdClaims(inner: ChunkRegistry, chunks: ChunkStore): HeldClaims {
  let owner = 0;
  const claims = new Map<string, Claim>();
  const buckets = new Map<string, Set<string>>(); // LSH band -> claimed chunks
  const unlinks = new Set<string>(); // claimed chunks whose near-duplicate link goes once the claim is written
  const prior = new Map<string, Set<string>>(); // a document's references when the group first read them
  const added = new Map<string, Set<string>>(); // references the group added that the document did not have
  const dropped = new Set<string>();

  const claim = (hash: string, signature: Uint32Array, bands: readonly string[]) => {
    unclaim(hash);
    dropped.delete(hash); // claimed again by a later document of the group
    claims.set(hash, { signature, bands, owner });
    for (const band of bands) {
      let set = buckets.get(band);
      if (!set) buckets.set(band, (set = new Set()));
      set.add(hash);
    }
  };
  const unclaim = (hash: string) => {
    const held = claims.get(hash);
    if (!held) return;
    claims.delete(hash);
    for (const band of held.bands) buckets.get(band)?.delete(hash);
  };
  const drop = (hash: string) => {
    unclaim(hash);
    unlinks.delete(hash);
    dropped.add(hash);
  };
  const withoutUnlinked = (set: Set<string>) => {
    for (const hash of unlinks) set.delete(hash);
    return set;
  };

  const registry: ChunkRegistry = {
    ...inner,
    docRefs: async (documentId) => {
      const refs = await inner.docRefs(documentId);
      if (!prior.has(documentId)) prior.set(documentId, new Set(refs));
      return refs;
    },
    addRefs: async (lease, documentId, hashes) => {
      await inner.addRefs(lease, documentId, hashes);
      const before = prior.get(documentId);
      if (!before) return; // unknown: never compensated
      let set = added.get(documentId);
      if (!set) added.set(documentId, (set = new Set()));
      for (const hash of hashes) if (!before.has(hash)) set.add(hash);
    },
    dupOf: async (hashes) => {
      const out = await inner.dupOf(hashes);
      for (const hash of unlinks) out.delete(hash);
      return out;
    },
    dupsOf: async (canonical) => withoutUnlinked(await inner.dupsOf(canonical)),
    dupsOfMany: async (canonicals) => {
      const out = await inner.dupsOfMany(canonicals);
      for (const set of out.values()) withoutUnlinked(set);
      return out;
    },
    signatures: async (hashes) => {
      const out = await inner.signatures(hashes);
      for (const hash of hashes) {
        const held = claims.get(hash);
        if (held) out.set(hash, held.signature);
      }
      return out;
    },
    candidatesMany: async (bandLists) => {
      const out = await inner.candidatesMany(bandLists);
      bandLists.forEach((bands, i) => {
        for (const band of bands) for (const hash of buckets.get(band) ?? []) out[i]?.add(hash);
      });
      return out;
    },
    markCanonical: async (_lease, hash, signature, bands) => claim(hash, signature, bands),
    markCanonicalMany: async (_lease, items) => {
      for (const { hash, signature, bands } of items) claim(hash, signature, bands);
    },
    unmarkCanonical: async (lease, hash, bands) => {
      unclaim(hash);
      await inner.unmarkCanonical(lease, hash, bands);
    },
    markDuplicate: async (lease, hash, canonical) => {
      unlinks.delete(hash);
      await inner.markDuplicate(lease, hash, canonical);
    },
    unmarkDuplicate: async (lease, hash) => {
      if (claims.has(hash)) unlinks.add(hash);
      else await inner.unmarkDuplicate(lease, hash);
    },
  };

  return {
    registry,
    setOwner: (next) => {
      owner = next;
    },
    dropOwner: (failed, held) => {
      const mine = new Map([...claims].filter(([, c]) => c.owner === failed));
      const { dropped: gone } = partitionClaims(mine, held);
      for (const hash of gone) drop(hash);
      return gone;
    },
    settle: async (lease, held) => {
      const { kept, dropped: gone } = partitionClaims(claims, held);
      for (const hash of gone) drop(hash);
      const items = kept.map((hash) => ({ hash, ...(claims.get(hash) as Claim) }));
      await inSlices(items, SLICE, (slice) => inner.markCanonicalMany(lease, slice));
      for (const hash of unlinks) await inner.unmarkDuplicate(lease, hash);
      const compensated = [...dropped];
      await compensate(lease, compensated);
      claims.clear();
      buckets.clear();
      unlinks.clear();
      dropped.clear();
      return { committed: kept, dropped: compensated };
    },
  };

  /** What a dropped claim left: its chunk store entry, and the references the group added to it. */
  async function compensate(lease: CorpusLease, hashes: readonly string[]): Promise<void> {
    if (hashes.length === 0) return;
    const gone = new Set(hashes);
    await chunks.delete(lease, hashes);
    for (const [documentId, refs] of added) {
      const undo = [...refs].filter((hash) => gone.has(hash));
      if (undo.length) await inner.removeRefs(lease, documentId, undo);
    }
  }
}
