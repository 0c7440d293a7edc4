import type { Redis } from "ioredis";
import type { Config } from "../../config/schema.js";
import { ConflictError, InvalidRequestError, RagopsError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { ObjectStore } from "../../core/object-store.js";
import { batchDirectoryWriter, recordsPerFile } from "../indexes/vertex-batch-files.js";
import type { BatchValidation } from "../indexes/vertex-operations.js";
import { createRedisTermStats, promoteTermStats } from "../indexes/term-stats.js";
import type { Datapoint } from "../indexes/vector-index.js";
import { countTerms } from "../sparse/analyze.js";
import { documentVector } from "../sparse/bm25.js";
import { createChunkStore, type ChunkRecord } from "../sync/chunk-store.js";
import { readManifest } from "../sync/manifest.js";
import { numericOf, restrictsOf } from "../sync/metadata.js";
import { registryPrefix } from "../sync/profile.js";
import { createChunkRegistry } from "../sync/registry.js";
import type { VersionCatalog } from "./catalog.js";
import type { ResourceProgress } from "./vertex-resources.js";
import { batchUpdateVertexIndex } from "./vertex-resources.js";
import { getVersion, needsSparse, versionIndex, versionRetrieval, type IndexVersion } from "./versions.js";

/**
 * A batch rebuild of a Vertex index version: every chunk the version holds
 * (its chunking profile's chunk store, the registry's documents, tags and
 * content types, each primary document's date) with its vector from the
 * embedding cache (embedded now only when the cache lacks it) and, in hybrid
 * or text mode, its BM25 sparse vector, written as JSON Lines files into a
 * GCS directory in the documented layout (../indexes/vertex-batch-files.ts),
 * then one updateIndex with contentsDeltaUri and isCompleteOverwrite, followed
 * to its end with progress. What the index held before is replaced whole:
 * the way to repair drift, or to load a version written elsewhere.
 *
 * The operation's name is recorded in the version before it is waited on
 * (vertex-resources.ts): a worker restarted meanwhile does not write the files
 * again but follows the operation it finds recorded. Term statistics are
 * counted under a name of their own while the files are written and made the
 * version's once Vertex applied the batch.
 *
 * Writes the corpus receives while the operation runs reach the index by
 * stream updates as always; Vertex does not say how a complete overwrite
 * orders itself with stream updates made during it, so rebuild when ingest is
 * quiet, or run a refresh after.
 */
export interface RebuildDeps {
  config: Config;
  store: ObjectStore;
  redis: Redis;
  catalog: VersionCatalog;
  logger: Logger;
  /** The staging bucket, rooted at gcp.vectorSearch.stagingUri's path. */
  staging: ObjectStore;
}

export interface RebuildProgress {
  phase: "writing" | "updating";
  done: number;
  total: number;
  /** While updating: the operation's polls. */
  operation?: ResourceProgress;
}

export interface RebuildResult {
  version: string;
  contentsDeltaUri: string;
  records: number;
  dataFiles: number;
  bytes: number;
  /** Chunks whose vector the cache lacked, embedded for the rebuild. */
  embedded: number;
  /** Whether the files were written by this run, or an operation left by an earlier one was followed. */
  resumed: boolean;
  validation?: BatchValidation;
}

/** Why a rebuild cannot run, checked before a job is queued: a version not on Vertex or no staging directory (a bad request), a version retired, failed or not built yet (a conflict with its state). */
export function rebuildRefusal(record: IndexVersion, config: Pick<Config, "gcp">): RagopsError | undefined {
  const details = { version: record.version };
  if (versionIndex(record).provider !== "vertex") return new InvalidRequestError(`index version ${record.version} lives in ${versionIndex(record).provider}; a batch rebuild is Vertex AI Vector Search's (updateIndex from GCS files)`, { details });
  if (!config.gcp.vectorSearch.stagingUri) return new InvalidRequestError("a batch rebuild writes its files under gcp.vectorSearch.stagingUri (RAGOPS_VERTEX_STAGING_URI, gs://bucket/path): set it", { details });
  if (record.state === "retired" || record.state === "failed") return new ConflictError(`index version ${record.version} is ${record.state}: there is nothing to rebuild`, details);
  if (!record.vertex?.index) return new ConflictError(`index version ${record.version} has no Vertex index yet: its build creates it`, details);
  return undefined;
}

/** Where one rebuild's files go, as a key prefix of the staging store and as a gs:// URI. Pure. */
export function rebuildDirectory(stagingUri: string, version: string, rebuildId: string): { prefix: string; uri: string } {
  const prefix = `${version}/${rebuildId}/`;
  return { prefix, uri: `${stagingUri.replace(/\/+$/, "")}/${prefix}` };
}

const stagedStatsName = (version: string, rebuildId: string) => `${version}~${rebuildId}`;

export async function rebuildVertexVersion(deps: RebuildDeps, version: string, rebuildId: string, onProgress?: (progress: RebuildProgress) => Promise<void> | void): Promise<RebuildResult> {
  const { config, redis } = deps;
  const record = await getVersion(deps.store, version);
  const refusal = rebuildRefusal(record, config);
  if (refusal) throw refusal;
  const { uri, prefix } = rebuildDirectory(config.gcp.vectorSearch.stagingUri as string, version, rebuildId);
  const sparse = needsSparse(versionRetrieval(record).mode);
  const staged = stagedStatsName(version, rebuildId);

  const resumed = record.operation?.step === "updateIndex";
  let written = { records: 0, dataFiles: 0, bytes: 0, embedded: 0 };
  if (!resumed) written = await writeRebuildFiles(deps, record, prefix, sparse ? staged : undefined, onProgress);
  if (written.records === 0 && !resumed) throw new RagopsError("conflict", `index version ${version} holds no chunks to rebuild from (its chunk store is empty): ingest documents first`);

  const resources = deps.catalog.vertexResources((operation) => onProgress?.({ phase: "updating", done: 0, total: 1, operation }));
  const outcome = await batchUpdateVertexIndex(resources, version, uri, { completeOverwrite: true });
  if (sparse) await promoteTermStats(redis, config.redis.prefix, staged, version);
  await onProgress?.({ phase: "updating", done: 1, total: 1 });
  if (outcome.validation?.invalid) deps.logger.warn({ version, validation: outcome.validation }, `Vertex refused ${outcome.validation.invalid} records of the rebuild of ${version}`);
  return { version, contentsDeltaUri: uri, ...written, resumed, ...(outcome.validation ? { validation: outcome.validation } : {}) };
}

/** Writes the version's datapoints into the batch directory (and counts their terms under `statsName`); returns what was written. */
async function writeRebuildFiles(deps: RebuildDeps, record: IndexVersion, prefix: string, statsName: string | undefined, onProgress?: (progress: RebuildProgress) => Promise<void> | void) {
  const { config, redis } = deps;
  const target = await deps.catalog.open(record.version);
  const registryKey = registryPrefix(config.redis.prefix, target.profile);
  const chunks = createChunkStore(redis, registryKey);
  const registry = createChunkRegistry(redis, registryKey);
  const retrieval = versionRetrieval(record);
  const stats = statsName ? createRedisTermStats(redis, config.redis.prefix, statsName) : undefined;
  await stats?.clear();
  const total = await chunks.count();
  const writer = batchDirectoryWriter(deps.staging, prefix, { recordsPerFile: recordsPerFile(total, config.gcp.vectorSearch.batchFileVectors) });
  const dates = new Map<string, Promise<string | undefined>>();
  const dateOf = (documentId: string) => {
    let found = dates.get(documentId);
    if (!found) dates.set(documentId, (found = readManifest(deps.store, target.profile, documentId).then((m) => m?.date)));
    return found;
  };
  const seen = new Set<string>();
  let embedded = 0;
  for await (const batch of chunks.scan()) {
    // HSCAN may return an entry twice: a batch holds each id once.
    const entries = [...batch].filter(([h]) => !seen.has(h));
    for (const [h] of entries) seen.add(h);
    if (entries.length === 0) continue;
    const vectors = await target.cache.get(entries.map(([h]) => h));
    const missing = entries.filter(([h]) => !vectors.has(h));
    if (missing.length > 0) {
      const made = await target.embedder.embed(missing.map(([, r]) => r.text), { purpose: "document" });
      const fresh = new Map(missing.map(([h], i) => [h, made[i] as Float32Array]));
      await target.cache.put(fresh);
      for (const [h, v] of fresh) vectors.set(h, v);
      embedded += missing.length;
    }
    const metas = await registry.docMeta([...new Set(entries.flatMap(([, r]) => r.documentIds))]);
    const datapoints = await Promise.all(
      entries.map(async ([h, r]: [string, ChunkRecord]): Promise<Datapoint> => ({
        id: h,
        vector: vectors.get(h) as Float32Array,
        ...(statsName ? { sparse: documentVector(countTerms(r.text), retrieval.bm25) } : {}),
        restricts: restrictsOf(r.documentIds, metas),
        numericRestricts: numericOf(await dateOf(r.documentId)),
      })),
    );
    await writer.add(datapoints);
    await stats?.record(datapoints);
    await onProgress?.({ phase: "writing", done: seen.size, total: Math.max(total, seen.size) });
  }
  const summary = await writer.finish();
  return { records: summary.records, dataFiles: summary.dataFiles, bytes: summary.bytes, embedded };
}
