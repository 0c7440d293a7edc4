import { randomUUID } from "node:crypto";
import { z } from "zod";
import {
  chunkingSchema,
  dedupeSchema,
  defaultTopKProblem,
  defaultTopKSchema,
  embedderSchema,
  indexProviderSchema,
  retrievalSchema,
  TERMS_PER_TOKEN,
  versionNameSchema,
  type ChunkingConfig,
  type IndexProvider,
  type RetrievalConfig,
  type RetrievalMode,
} from "../../config/schema.js";
import { ConflictError, InvalidRequestError, NotFoundError } from "../../core/errors.js";
import { readJson, updateJson, writeJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { isFenced, type AliasRecord } from "./alias.js";
import { embedderIdentity } from "../embedders/index.js";
import type { VertexPlacement } from "../indexes/vertex-settings.js";
import type { EmbedderIdentity } from "../embedders/embedder.js";
import type { Fusion, FusionMethod } from "../indexes/vector-index.js";
import type { Bm25Params } from "../sparse/bm25.js";
import { nextState, type IndexEvent, type IndexState } from "./states.js";

/**
 * The registry of index versions: one record per version in the object store
 * (`indexes/<version>.json`), pinning everything that shapes retrieval, with
 * its state, counts and history. Records move only through the state machine,
 * by compare-and-swap. Which version is live or previous is the alias's to
 * say (see alias.ts); `effectiveState` combines the two.
 */
// Defined in config/ (index.version is one too); re-exported as the lifecycle's name for it.
export { versionNameSchema };

/** The index adapter a version lives in; fixed at creation, so versions on different providers live side by side. */
export const versionIndexSchema = z.strictObject({ provider: indexProviderSchema });
export type VersionIndex = z.infer<typeof versionIndexSchema>;

export const indexVersionConfigSchema = z.strictObject({
  embedder: embedderSchema.prefault({}),
  /** Absent in a request: the configured index.provider. Absent in a record: written before versions pinned it, so LanceDB. */
  index: versionIndexSchema.optional(),
  chunking: chunkingSchema.prefault({}),
  dedupe: dedupeSchema.prefault({}),
  /** Absent in a request: hybrid with the defaults. Absent in a record: written before versions pinned it, so dense. Pinned with BM25's avgdl filled in. */
  retrieval: retrievalSchema.optional(),
  defaultTopK: defaultTopKSchema,
  /** Restricts every search of this version (e.g. only public documents); a request's own filter narrows it further. */
  filter: z
    .strictObject({
      tags: z.array(z.string().min(1)).min(1).optional(),
      contentTypes: z.array(z.string().min(1)).min(1).optional(),
    })
    .optional(),
});

export type IndexVersionConfig = z.infer<typeof indexVersionConfigSchema>;

export interface IndexVersion {
  version: string;
  state: IndexState;
  config: IndexVersionConfig;
  /** The embedder's identity (provider, model, version, dimensions): vectors from any other never enter this version. */
  embedder: EmbedderIdentity;
  counts: { documents: number; chunks: number; datapoints: number };
  createdAt: string;
  createdBy: string;
  updatedAt: string;
  buildJobId?: string;
  builtAt?: string;
  /** The job that drops a retired Vertex version's index (undeploy, delete), when its retire queued one. */
  retireJobId?: string;
  /** The evaluation report that last moved the version: the passing one that made it evaluated, or the failing one that kept or sent it back to ready. */
  reportId?: string;
  /** The version's latest evaluation as a candidate, passing or not: swap admits only when it passed (see operations.ts). */
  lastEvaluation?: LastEvaluation;
  /** Why the build or the evaluation failed. */
  error?: string;
  /** While building: documents done of total. */
  progress?: { done: number; total: number };
  /** A Vertex version's index: the endpoint and deployedIndexId it is served under, the index once created, whether it is deployed. */
  vertex?: VertexPlacement;
  /**
   * A long-running operation on the version's index under way (Vertex), recorded
   * before it is waited on, so a worker started again follows it to its end
   * by name instead of starting another (vertex-resources.ts).
   */
  operation?: PendingOperation;
}

export interface PendingOperation {
  step: "createIndex" | "deployIndex" | "updateIndex" | "undeployIndex" | "deleteIndex";
  name: string;
  startedAt: string;
}

export interface LastEvaluation {
  reportId: string;
  passed: boolean;
  goldenSet: { name: string; version: number };
  /** The gate's summary, e.g. "failed 1 of 3 rules: non-regression on ndcg@10". */
  summary: string;
  at: string;
}

export const versionKey = (version: string) => `indexes/${version}.json`;

/** A fresh id for a build job of this version. */
export function newBuildJobId(version: string): string {
  return `build-${version}-${randomUUID().slice(0, 8)}`;
}

/**
 * Creates a version record, building. `maxTopK` is the service's index.maxTopK, which the version's defaultTopK
 * must not exceed; `defaultIndexProvider` (config index.provider) is pinned when the version's config names none.
 * `buildJobId`: the job that will build it, recorded with the version from its first write, so no reader ever
 * sees it building without one (a starting worker would queue a second build: catalog.ts, buildsToQueue).
 */
export async function createVersion(store: ObjectStore, request: { version: string; config: unknown; actor: string; maxTopK: number; defaultIndexProvider: IndexProvider; buildJobId?: string }): Promise<IndexVersion> {
  const version = versionNameSchema.parse(request.version);
  const parsed = indexVersionConfigSchema.parse(request.config ?? {});
  const config: IndexVersionConfig = { ...parsed, index: parsed.index ?? { provider: request.defaultIndexProvider }, retrieval: pinRetrieval(parsed.retrieval ?? retrievalSchema.parse({}), parsed.chunking) };
  const topKProblem = defaultTopKProblem(config.defaultTopK, request.maxTopK);
  if (topKProblem) throw new InvalidRequestError(`index version ${version}: ${topKProblem}; every search without k would be refused`, { details: { version } });
  const now = new Date().toISOString();
  const record: IndexVersion = { version, state: "building", config, embedder: embedderIdentity(config.embedder), counts: { documents: 0, chunks: 0, datapoints: 0 }, createdAt: now, createdBy: request.actor, updatedAt: now, ...(request.buildJobId ? { buildJobId: request.buildJobId } : {}) };
  try {
    await writeJson(store, versionKey(version), record, 0);
  } catch (error) {
    if (error instanceof ConflictError) throw new ConflictError(`index version ${version} already exists`, { version });
    throw error;
  }
  return record;
}

/** The index adapter a version lives in. */
export function versionIndex(record: IndexVersion): VersionIndex {
  return record.config.index ?? { provider: "lancedb" };
}

/** How a version retrieves, everything pinned: its mode, the fusion of its two rankings, and BM25's parameters. */
export interface VersionRetrieval {
  mode: RetrievalMode;
  fusion: FusionMethod;
  rrf: Omit<Fusion, "method">;
  bm25: Bm25Params;
}

/** A retrieval config with BM25's avgdl fixed (from the chunk size when not given), as a version pins it. */
export function pinRetrieval(retrieval: RetrievalConfig, chunking: Pick<ChunkingConfig, "sizeTokens">): VersionRetrieval {
  return { ...retrieval, bm25: { ...retrieval.bm25, avgdl: retrieval.bm25.avgdl ?? Math.round(TERMS_PER_TOKEN * chunking.sizeTokens) } };
}

/** How a version retrieves; a record from before versions pinned it is dense, the only retrieval there was, and one from before they pinned a fusion method fuses by reciprocal rank, the only fusion there was. */
export function versionRetrieval(record: IndexVersion): VersionRetrieval {
  const stored: (Omit<RetrievalConfig, "fusion"> & { fusion?: FusionMethod }) | undefined = record.config.retrieval;
  const retrieval = stored ? { ...stored, fusion: stored.fusion ?? "rrf" } : { ...retrievalSchema.parse({}), mode: "dense" as const, fusion: "rrf" as const };
  return pinRetrieval(retrieval, record.config.chunking);
}

/** The fusion a hybrid query of this version is asked with. */
export function versionFusion(retrieval: VersionRetrieval): Fusion {
  return { method: retrieval.fusion, ...retrieval.rrf };
}

/** Whether a version in this mode holds BM25 sparse vectors (sync writes them only then). */
export function needsSparse(mode: RetrievalMode): boolean {
  return mode !== "dense";
}

export async function getVersion(store: ObjectStore, version: string): Promise<IndexVersion> {
  const found = await readJson<IndexVersion>(store, versionKey(versionNameSchema.parse(version)));
  if (!found) throw new NotFoundError(`index version ${version} not found`);
  return found.value;
}

export async function listVersions(store: ObjectStore): Promise<IndexVersion[]> {
  const out: IndexVersion[] = [];
  for await (const meta of store.list("indexes/")) {
    const found = await readJson<IndexVersion>(store, meta.key);
    if (found) out.push(found.value);
  }
  return out.sort((a, b) => a.createdAt.localeCompare(b.createdAt) || a.version.localeCompare(b.version));
}

/** Moves a version by an event (refused moves are a ConflictError with the reason), merging `patch` in. */
export async function moveVersion(store: ObjectStore, version: string, event: IndexEvent, patch: Partial<Omit<IndexVersion, "version" | "state" | "config" | "createdAt" | "createdBy">> = {}): Promise<IndexVersion> {
  return changeVersion(store, version, (current) => {
    const move = nextState(current.state, event);
    if (!move.ok) throw new ConflictError(`index version ${version}: ${move.reason}`, { version, state: current.state });
    return { ...current, ...patch, state: move.state };
  });
}

/**
 * The state an operator sees: live and previous come from the alias, everything else from the record
 * (a version the alias fences off is retired even if an interrupted retire left its record behind).
 */
export function effectiveState(record: IndexVersion, alias: AliasRecord): IndexState {
  if (alias.live === record.version) return "live";
  if (alias.previous === record.version) return "previous";
  if (isFenced(alias, record.version)) return "retired";
  return record.state;
}

/**
 * Why a version cannot answer searches as live (or be rolled back to), or
 * undefined when it can: only a finished build holds a whole index.
 */
export function cannotServe(record: IndexVersion, alias: AliasRecord): string | undefined {
  if (record.state === "retired" || isFenced(alias, record.version)) return "retired (its index data is dropped)";
  if (record.state === "failed") return `failed (its build failed: ${record.error ?? "no reason recorded"}; its index is partial)`;
  if (record.state === "building") return "building (its index is not complete yet)";
  return undefined;
}

/** Changes fields other than state (the build job id, counts), by compare-and-swap. */
export async function patchVersion(store: ObjectStore, version: string, patch: Partial<Pick<IndexVersion, "buildJobId" | "retireJobId" | "counts" | "reportId" | "lastEvaluation" | "progress" | "vertex" | "operation">>): Promise<IndexVersion> {
  return changeVersion(store, version, (current) => ({ ...current, ...patch }));
}

/** Applies `change` to an existing version record by compare-and-swap (see updateJson), stamping updatedAt. */
async function changeVersion(store: ObjectStore, version: string, change: (current: IndexVersion) => IndexVersion): Promise<IndexVersion> {
  const { after } = await updateJson<IndexVersion>(store, versionKey(versionNameSchema.parse(version)), (current) => {
    if (!current) throw new NotFoundError(`index version ${version} not found`);
    return { ...change(current), updatedAt: new Date().toISOString() };
  });
  return after.value;
}
