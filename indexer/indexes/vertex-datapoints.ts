import type { protos } from "@google-cloud/aiplatform";
import { NAMESPACES, NUMERIC_NAMESPACES, type Datapoint, type IndexFilter, type Restricts, type SparseVector, type StoredRestricts } from "./vector-index.js";

/**
 * The vector index port's datapoints and queries as Vertex AI Vector Search
 * messages, and back: pure functions, one per message part, so a new part
 * (a sparse embedding on a datapoint, rrf on a query) is one more function
 * called from toWireDatapoint or toWireQuery.
 *
 * - Token restricts: one Restriction per namespace that has tokens
 *   (`allowList`; datapoints carry no deny lists), namespaces by the port's
 *   names (documentIds, tags, contentTypes). A namespace without tokens is
 *   left out, and read back as an empty list.
 * - Numeric restricts: `valueDouble`, which holds any number the port holds
 *   exactly (valueInt would come back as a string, valueFloat rounded to 32 bits).
 * - Query filters: a Restriction per namespace with a non-empty allow or deny
 *   list (an empty list sets no condition, as the port says), and a
 *   NumericRestriction with its op per comparison.
 * - Sparse vectors (BM25 weights, ../sparse/) go as Vertex's sparse_embedding
 *   beside the dense feature vector; a text query sends the sparse one alone.
 * - Query vectors are scaled to unit length: the index is created with
 *   DOT_PRODUCT_DISTANCE and UNIT_L2_NORM, so the dot product Vertex reports
 *   is the cosine similarity the port's scores are.
 */
type WireDatapoint = protos.google.cloud.aiplatform.v1.IIndexDatapoint;
type WireQuery = protos.google.cloud.aiplatform.v1.FindNeighborsRequest.IQuery;
type WireRestriction = protos.google.cloud.aiplatform.v1.IndexDatapoint.IRestriction;
type WireNumericRestriction = protos.google.cloud.aiplatform.v1.IndexDatapoint.INumericRestriction;

export function toWireDatapoint(datapoint: Datapoint): WireDatapoint {
  return { datapointId: datapoint.id, featureVector: Array.from(datapoint.vector), ...(datapoint.sparse ? { sparseEmbedding: toWireSparse(datapoint.sparse) } : {}), ...toWireRestricts(datapoint) };
}

/** Vertex's SparseEmbedding: the same dimensions and weights, position by position. */
export function toWireSparse(sparse: SparseVector): protos.google.cloud.aiplatform.v1.IndexDatapoint.ISparseEmbedding {
  return { dimensions: Array.from(sparse.dimensions), values: Array.from(sparse.values) };
}

/** What updateRestricts sends with update mask all_restricts: the restricts, and the vector the index holds. */
export function toWireRestrictsUpdate(id: string, stored: StoredRestricts, vector: readonly number[]): WireDatapoint {
  return { datapointId: id, featureVector: [...vector], ...toWireRestricts(stored) };
}

export function toWireRestricts(stored: StoredRestricts): Pick<WireDatapoint, "restricts" | "numericRestricts"> {
  return {
    restricts: NAMESPACES.filter((ns) => stored.restricts[ns].length > 0).map((namespace): WireRestriction => ({ namespace, allowList: [...stored.restricts[namespace]] })),
    numericRestricts: NUMERIC_NAMESPACES.flatMap((namespace): WireNumericRestriction[] => {
      const value = stored.numericRestricts[namespace];
      return value === undefined ? [] : [{ namespace, valueDouble: value }];
    }),
  };
}

/** The restricts of a datapoint readIndexDatapoints returned; namespaces the port does not know are ignored. */
export function fromWireRestricts(datapoint: WireDatapoint): StoredRestricts {
  const restricts = Object.fromEntries(NAMESPACES.map((ns) => [ns, [] as string[]])) as unknown as Restricts;
  for (const r of datapoint.restricts ?? []) {
    if ((NAMESPACES as readonly string[]).includes(r.namespace ?? "")) restricts[r.namespace as keyof Restricts] = [...(r.allowList ?? [])];
  }
  const numericRestricts: StoredRestricts["numericRestricts"] = {};
  for (const r of datapoint.numericRestricts ?? []) {
    const namespace = NUMERIC_NAMESPACES.find((ns) => ns === r.namespace);
    const value = r.valueDouble ?? r.valueFloat ?? (r.valueInt === undefined || r.valueInt === null ? undefined : Number(r.valueInt));
    if (namespace && value !== undefined && value !== null) numericRestricts[namespace] = Number(value);
  }
  return { restricts, numericRestricts };
}

export function toWireQuery(vector: ArrayLike<number>, options: { k: number; filter?: IndexFilter | undefined }): WireQuery {
  return { datapoint: { datapointId: "", featureVector: unitLength(vector), ...toWireFilter(options.filter) }, neighborCount: options.k };
}

/** A sparse-only query (text mode): no feature vector, so Vertex ranks by the sparse dot product alone. */
export function toWireSparseQuery(sparse: SparseVector, options: { k: number; filter?: IndexFilter | undefined }): WireQuery {
  return { datapoint: { datapointId: "", featureVector: [], sparseEmbedding: toWireSparse(sparse), ...toWireFilter(options.filter) }, neighborCount: options.k };
}

/** A hybrid query fused by Vertex itself: both embeddings and rrf.alpha (Vertex's rank constant and depth, not the version's). */
export function toWireHybridQuery(vector: ArrayLike<number>, sparse: SparseVector, options: { k: number; alpha: number; filter?: IndexFilter | undefined }): WireQuery {
  return { datapoint: { datapointId: "", featureVector: unitLength(vector), sparseEmbedding: toWireSparse(sparse), ...toWireFilter(options.filter) }, neighborCount: options.k, rrf: { alpha: options.alpha } };
}

export function toWireFilter(filter: IndexFilter | undefined): Pick<WireDatapoint, "restricts" | "numericRestricts"> {
  const restricts = NAMESPACES.flatMap((namespace): WireRestriction[] => {
    const allow = filter?.restricts?.[namespace]?.allow ?? [];
    const deny = filter?.restricts?.[namespace]?.deny ?? [];
    return allow.length === 0 && deny.length === 0 ? [] : [{ namespace, allowList: [...allow], denyList: [...deny] }];
  });
  const numericRestricts = (filter?.numeric ?? []).map((n): WireNumericRestriction => ({ namespace: n.namespace, valueDouble: n.value, op: n.op }));
  return { restricts, numericRestricts };
}

export function unitLength(vector: ArrayLike<number>): number[] {
  const values = Array.from(vector);
  const norm = Math.sqrt(values.reduce((sum, x) => sum + x * x, 0));
  return norm === 0 ? values : values.map((x) => x / norm);
}
