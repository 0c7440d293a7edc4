import { DimensionMismatchError, type Datapoint, type StoredRestricts, type VectorIndex } from "../indexes/vector-index.js";

/**
 * An index as the documents of one commit group see it (commit-group.ts):
 * new datapoints are held back and written in one batch when the group
 * flushes, instead of one write per document (an index write costs about the
 * same for 50 rows as for 500 in LanceDB, and is one request on Vertex).
 *
 * Only upserts wait. They are what a crash may lose safely: a chunk the
 * registry calls canonical but the index lacks is written again by the next
 * sync of any document holding it, as upsertMissing checks the index itself.
 * Removals and restrict updates are not held back: each first flushes what is
 * pending and then goes straight to the index, so the order of writes to the
 * index is the order the documents asked for them, and a removal is in the
 * index before the references that would let a retry find it again are gone
 * (release.ts).
 *
 * `fetch` answers as if the held-back upserts were written, so the next
 * document of the group sees the chunks the previous one added. What the
 * index holds is read once per id (`prime` reads a whole group's ids in one
 * call) and then kept from this buffer's own writes: nobody else writes the
 * index while the group holds the corpus lease.
 *
 * A failed flush is remembered: the datapoints it carried are lost (held
 * back no more, never known to be held), so the group must fail, and every
 * later call through the buffer fails with the same error rather than build
 * on writes that did not happen.
 */
export interface BufferedIndex {
  readonly index: VectorIndex;
  upsert(datapoints: readonly Datapoint[]): Promise<void>;
  updateRestricts(updates: ReadonlyArray<{ id: string } & StoredRestricts>): Promise<void>;
  remove(ids: readonly string[]): Promise<void>;
  fetch(ids: readonly string[]): Promise<Map<string, StoredRestricts>>;
  /**
   * Reads which of these ids the index holds, in one call, so later fetches of
   * them are answered from memory. Only sound while nobody else writes the
   * index: under the corpus lease, for one commit group.
   */
  prime(ids: readonly string[]): Promise<void>;
  /** Datapoints held back. */
  pending(): number;
  /** Writes what is held back, in one upsert. */
  flush(): Promise<void>;
  /** True when the index is known, from memory alone, to hold this id: read by prime or fetch, or written by a flush that succeeded. */
  holds(id: string): boolean;
  /** Forgets held-back datapoints: their flush will not write them. */
  discard(ids: readonly string[]): void;
  /** The error of a flush that failed, if one did. */
  failure(): unknown;
}

export function bufferIndex(index: VectorIndex): BufferedIndex {
  let held = new Map<string, Datapoint>();
  // What the index is known to hold (null: known absent), from prime and fetch, kept up to date by this buffer's own writes.
  const known = new Map<string, StoredRestricts | null>();
  const stored = (point: Datapoint): StoredRestricts => ({ restricts: point.restricts, numericRestricts: point.numericRestricts });
  let failed: { error: unknown } | undefined;
  const healthy = () => {
    if (failed) throw failed.error;
  };
  const flush = async () => {
    healthy();
    if (held.size === 0) return;
    const batch = [...held.values()];
    held = new Map();
    try {
      await index.upsert(batch);
    } catch (error) {
      failed = { error };
      throw error;
    }
    for (const point of batch) known.set(point.id, stored(point));
  };
  const readThrough = async (ids: readonly string[]) => {
    const unknown = ids.filter((id) => !held.has(id) && !known.has(id));
    if (unknown.length === 0) return;
    const found = await index.fetch(unknown);
    for (const id of unknown) known.set(id, found.get(id) ?? null);
  };
  return {
    index,
    upsert: async (datapoints) => {
      healthy();
      // Checked now, as the index would: a wrong-size vector must fail the document that brought it, not the group's flush.
      const wrong = datapoints.find((point) => point.vector.length !== index.dimensions);
      if (wrong) throw new DimensionMismatchError(index.dimensions, wrong.vector.length, `datapoint ${wrong.id} has ${wrong.vector.length} dimensions, index ${index.name} wants ${index.dimensions}`);
      for (const point of datapoints) held.set(point.id, point);
    },
    updateRestricts: async (updates) => {
      await flush();
      await index.updateRestricts(updates);
      for (const update of updates) if (known.get(update.id)) known.set(update.id, { restricts: update.restricts, numericRestricts: update.numericRestricts });
    },
    remove: async (ids) => {
      await flush();
      await index.remove(ids);
      for (const id of ids) known.set(id, null);
    },
    fetch: async (ids) => {
      healthy();
      await readThrough(ids);
      const out = new Map<string, StoredRestricts>();
      for (const id of ids) {
        const point = held.get(id);
        const value = point ? stored(point) : known.get(id);
        if (value) out.set(id, value);
      }
      return out;
    },
    prime: async (ids) => {
      healthy();
      await readThrough(ids);
    },
    pending: () => held.size,
    flush,
    holds: (id) => Boolean(known.get(id)),
    discard: (ids) => {
      for (const id of ids) held.delete(id);
    },
    failure: () => failed?.error,
  };
}
