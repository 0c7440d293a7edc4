/**
 * Vector index port: one index version's datapoints.
 *
 * A datapoint is one chunk (its id is the chunk's content hash): a vector,
 * restricts (the fields filters work on; a chunk shared by several documents
 * lists them all) and a small JSON payload returned with each neighbour.
 * Scores are cosine similarities in [-1, 1], higher is closer.
 *
 * Left out: index creation options, hybrid/sparse search, crowding.
 */
export interface Restricts {
  documentIds: string[];
  tags: string[];
  contentTypes: string[];
}

export interface Datapoint {
  id: string;
  vector: Float32Array | number[];
  restricts: Restricts;
  payload: Record<string, unknown>;
}

export interface MetadataUpdate {
  id: string;
  restricts: Restricts;
  payload: Record<string, unknown>;
}

export interface StoredDatapoint {
  restricts: Restricts;
  payload: Record<string, unknown>;
}

export interface IndexFilter {
  /** Matches datapoints of any of these documents. */
  documentIds?: string[];
  /** Matches datapoints with any of these tags. */
  tags?: string[];
  contentTypes?: string[];
}

export interface Neighbor {
  id: string;
  score: number;
  restricts: Restricts;
  payload: Record<string, unknown>;
}

export interface VectorIndex {
  readonly name: string;
  readonly dimensions: number;
  upsert(datapoints: readonly Datapoint[]): Promise<void>;
  /** Changes restricts and payload of datapoints the index holds, keeping their vectors. */
  updateMetadata(updates: readonly MetadataUpdate[]): Promise<void>;
  remove(ids: readonly string[]): Promise<void>;
  /** Removes every datapoint matching the filter; returns how many went. */
  removeWhere(filter: IndexFilter): Promise<number>;
  /** Restricts and payload of those of these ids the index holds. */
  fetch(ids: readonly string[]): Promise<Map<string, StoredDatapoint>>;
  query(vector: Float32Array | number[], options: { k: number; filter?: IndexFilter }): Promise<Neighbor[]>;
  count(filter?: IndexFilter): Promise<number>;
  /** Every datapoint id, for checks and repairs. */
  listIds(): Promise<string[]>;
  close(): Promise<void>;
  /** Drops this version's data for good (retire). */
  destroy(): Promise<void>;
}
