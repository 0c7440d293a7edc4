/**
 * Vector index port: one index version's datapoints.
 *
 * A datapoint is a vector with restricts (the fields filters work on) and a
 * small JSON payload returned with each neighbour. Scores are cosine
 * similarities in [-1, 1], higher is closer.
 *
 * Left out: index creation options, hybrid/sparse search, crowding.
 */
export interface Restricts {
  documentId: string;
  tags: string[];
  contentType: string;
}

export interface Datapoint {
  id: string;
  vector: Float32Array | number[];
  restricts: Restricts;
  payload: Record<string, unknown>;
}

export interface IndexFilter {
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
  remove(ids: readonly string[]): Promise<void>;
  /** Removes every datapoint matching the filter; returns how many went. */
  removeWhere(filter: IndexFilter): Promise<number>;
  query(vector: Float32Array | number[], options: { k: number; filter?: IndexFilter }): Promise<Neighbor[]>;
  count(filter?: IndexFilter): Promise<number>;
  close(): Promise<void>;
}
