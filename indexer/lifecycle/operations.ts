import type { IndexHealth } from "../indexes/vector-index.js";
import { fenceRetired, flushAliasJournal, readAlias, rollbackLive, swapLive, type AliasRecord } from "./alias.js";
import { appendAudit } from "./audit.js";
import { admitsPromotion, nextState } from "./states.js";
import { cannotServe, createVersion, effectiveState, getVersion, listVersions, moveVersion, newBuildJobId, patchVersion, versionIndex, type IndexVersion } from "./versions.js";
import type { Config, EmbedderConfig, IndexProvider } from "../../config/schema.js";
import { ConflictError, InvalidRequestError } from "../../core/errors.js";
import { getGoldenSetRecord } from "../evaluation/golden-store.js";
import { readReport } from "../evaluation/run.js";
import type { ObjectStore } from "../../core/object-store.js";
import type { VersionCatalog } from "./catalog.js";

/** The lifecycle operations, with their rules and audit entries: one place for the HTTP API and the CLI. */
export interface LifecycleDeps {
  store: ObjectStore;
  catalog: VersionCatalog;
  /** Queues a version's build as job `jobId` (already recorded on the version); returns the job's id. */
  startBuild(version: string, jobId: string): Promise<string>;
  /** The service's index.maxTopK: a new version's defaultTopK may not exceed it. */
  maxTopK: number;
  /** The index adapter of a version whose config names none (config index.provider). */
  defaultIndexProvider: IndexProvider;
  /**
   * Queues the job that drops a retired version's index data when that takes
   * long-running operations (Vertex: undeploy, delete); returns its id. Absent:
   * retire drops the data itself before it answers.
   */
  startRetire?(version: string): Promise<string>;
  /**
   * The embedder of a version whose config names none, and under the fields a
   * config names partly (the gcp profile: the configured Vertex embedder).
   * Absent: the embedder schema's defaults, as versions always had.
   */
  defaultEmbedder?: EmbedderConfig | undefined;
}

/** A version config with the service's embedder under what it names of its own. Pure. */
export function withDefaultEmbedder(config: unknown, embedder: EmbedderConfig | undefined): unknown {
  if (!embedder || typeof config !== "object" || config === null || Array.isArray(config)) return config;
  const given = (config as { embedder?: Record<string, unknown> }).embedder ?? {};
  if (typeof given !== "object" || given === null) return config;
  return { ...config, embedder: { ...embedder, ...given, vertex: { ...embedder.vertex, ...((given.vertex as object | undefined) ?? {}) } } };
}

export type ShownVersion = IndexVersion & { state: ReturnType<typeof effectiveState>; index?: IndexHealth };

export async function createAndBuild(deps: LifecycleDeps, request: { version?: string; config?: unknown; actor: string }): Promise<IndexVersion> {
  const version = request.version ?? `v${(await listVersions(deps.store)).length + 1}`;
  // The job id is on the record from its first write: a worker starting before the job is queued sees a version with a build coming (buildsToQueue).
  const buildJobId = newBuildJobId(version);
  const record = await createVersion(deps.store, { version, config: withDefaultEmbedder(request.config ?? {}, deps.defaultEmbedder), actor: request.actor, maxTopK: deps.maxTopK, defaultIndexProvider: deps.defaultIndexProvider, buildJobId });
  await appendAudit(deps.store, { actor: request.actor, action: "create", version });
  await deps.startBuild(version, buildJobId);
  return record;
}

export async function showVersions(deps: Pick<LifecycleDeps, "store" | "catalog">): Promise<{ alias: AliasRecord; versions: ShownVersion[] }> {
  const { alias } = await readAlias(deps.store);
  return { alias, versions: await Promise.all((await listVersions(deps.store)).map((v) => withLiveCounts(deps, v, alias))) };
}

export async function showVersion(deps: Pick<LifecycleDeps, "store" | "catalog">, version: string): Promise<ShownVersion> {
  const { alias } = await readAlias(deps.store);
  return withLiveCounts(deps, await getVersion(deps.store, version), alias);
}

/** Versions keep growing after their build (they follow the corpus): count what they hold now. */
async function withLiveCounts(deps: Pick<LifecycleDeps, "store" | "catalog">, record: IndexVersion, alias: AliasRecord): Promise<ShownVersion> {
  const shown = { ...record, state: effectiveState(record, alias) };
  if (shown.state === "retired" || shown.state === "failed" || shown.state === "building") return shown;
  const open = await deps.catalog.open(record.version);
  let documents = 0;
  for await (const _ of deps.store.list(`manifests/${open.profile}/`)) documents += 1;
  const health = await open.index.describe?.();
  return { ...shown, counts: { ...record.counts, documents, datapoints: await open.index.count() }, ...(health ? { index: health } : {}) };
}

/**
 * Makes `to` live if live is still `expectedVersion`. Earned: the version is
 * evaluated and its latest evaluation passed the gate, on the latest version
 * of that golden set, against the version live now (expectedVersion).
 * Otherwise a ready or evaluated version needs `force` with a `reason`, which
 * the audit log records as a forced promotion with the report id, if any.
 */
export async function swap(deps: Pick<LifecycleDeps, "store">, request: { to: string; expectedVersion: string | null; force?: boolean; reason?: string | undefined; actor: string }): Promise<AliasRecord> {
  const target = await getVersion(deps.store, request.to);
  const unearned = target.state === "evaluated" ? await whyNotEarned(deps.store, target, request.expectedVersion) : undefined;
  const earned = target.state === "evaluated" && unearned === undefined;
  if (!earned) {
    // An evaluated version whose passing report no longer admits it (stale golden set, other live) is as good as ready: only force promotes it.
    if (!admitsPromotion(target.state === "evaluated" ? "ready" : target.state, { force: request.force === true })) {
      const hint =
        target.state === "ready" || target.state === "evaluated"
          ? `${unearned ?? noPassingEvaluation(target)}; evaluate it (POST /v1/indexes/${request.to}/evaluations, ragops eval ${request.to} --golden <set>), or force it with a reason (API: force: true and reason, CLI: --force --reason; recorded in the audit log)`
          : target.state === "failed"
            ? `its build failed (${target.error ?? "no reason recorded"}) and it stopped following the corpus; retire it and build a new version`
            : `it is ${target.state}`;
      throw new ConflictError(`index version ${request.to} cannot be made live: ${hint}`, { state: target.state, ...(target.lastEvaluation ? { evaluation: target.lastEvaluation } : {}) });
    }
    if (!request.reason?.trim()) throw new InvalidRequestError(`forcing ${request.to} live without a passing evaluation needs a reason (API: reason, CLI: --reason "…"); the audit log records it`);
  }
  const reportId = earned ? target.reportId : (target.lastEvaluation?.reportId ?? target.reportId);
  // The audit entry rides in the alias write itself, then is appended: a crash in between cannot lose it (alias.ts flushAliasJournal).
  const change = await swapLive(deps.store, { to: request.to, expectedVersion: request.expectedVersion, actor: request.actor, audit: { action: earned ? "swap" : "forced-promotion", reportId, reason: request.reason } });
  await flushAliasJournal(deps.store).catch(() => undefined); // else the next alias change or audit read appends it
  return withoutJournal(change.alias);
}

function noPassingEvaluation(target: IndexVersion): string {
  const last = target.lastEvaluation;
  if (last && !last.passed) return `its latest evaluation ${last.reportId} (golden set ${last.goldenSet.name}@${last.goldenSet.version}) ${last.summary}`;
  return "it has no passing evaluation";
}

/** Why an evaluated version's passing report no longer admits it, or undefined when it does. */
async function whyNotEarned(store: ObjectStore, target: IndexVersion, expectedLive: string | null): Promise<string | undefined> {
  const last = target.lastEvaluation;
  if (!target.reportId || !last) return "it has no passing evaluation on record";
  if (!last.passed || last.reportId !== target.reportId) return noPassingEvaluation(target);
  const report = await readReport(store, target.reportId).catch(() => undefined);
  if (!report) return `its passing evaluation ${target.reportId} is gone from the object store`;
  const latest = await getGoldenSetRecord(store, report.goldenSet.name).catch(() => undefined);
  if (!latest || latest.version !== report.goldenSet.version) {
    return `its passing evaluation ${report.id} is on golden set ${report.goldenSet.name}@${report.goldenSet.version}, but the current one is ${latest ? `@${latest.version}` : "gone"}`;
  }
  if ((report.live?.version ?? null) !== expectedLive) return `its passing evaluation ${report.id} compared it with ${report.live ? `live ${report.live.version}` : "no live version"}, not with ${expectedLive ?? "no live version"}`;
  return undefined;
}

/** Makes previous live again, if live is still `expectedVersion` (when given); a previous that cannot serve (retired, failed, building) is refused. */
export async function rollback(deps: Pick<LifecycleDeps, "store">, request: { expectedVersion?: string | null; reason?: string; actor: string }): Promise<AliasRecord> {
  const admit = async (previous: string, alias: AliasRecord) => {
    const record = await getVersion(deps.store, previous);
    const problem = cannotServe(record, alias);
    if (problem) throw new ConflictError(`cannot roll back to ${previous}: it is ${problem}; swap in a ready version instead`, { version: previous, state: record.state });
  };
  const change = await rollbackLive(deps.store, { actor: request.actor, admit, audit: { action: "rollback", reason: request.reason }, ...(request.expectedVersion !== undefined ? { expectedVersion: request.expectedVersion } : {}) });
  await flushAliasJournal(deps.store).catch(() => undefined);
  return withoutJournal(change.alias);
}

/**
 * Drops a version's index data (the record stays, retired); live and previous
 * are refused. The version is fenced off in the alias first, by
 * compare-and-swap on the alias it read, so a swap or rollback racing this
 * retire either commits first (and the retire is refused) or finds the version
 * fenced (and is refused): see the protocol in indexer/lifecycle/alias.ts. The
 * data is dropped only once nothing can make the version live again.
 */
export async function retire(deps: Pick<LifecycleDeps, "store" | "catalog" | "startRetire">, request: { version: string; reason?: string; actor: string }): Promise<IndexVersion> {
  const before = await getVersion(deps.store, request.version);
  // A version still building is refused before it is fenced; no state leads back to building.
  const move = nextState(before.state, "retired");
  if (!move.ok) throw new ConflictError(`index version ${request.version}: ${move.reason}`, { version: request.version, state: before.state });
  await fenceRetired(deps.store, { version: request.version, actor: request.actor });
  // Of two retires of one version, one moves the record and drops the data; the other gets a ConflictError here.
  const record = await moveVersion(deps.store, request.version, "retired");
  if (versionIndex(record).provider === "vertex" && deps.startRetire) {
    // Undeploying and deleting a Vertex index take minutes: a job does it (and a restarted worker finishes it).
    const retireJobId = await deps.startRetire(request.version);
    await appendAudit(deps.store, { actor: request.actor, action: "retire", version: request.version, reason: request.reason });
    return patchVersion(deps.store, request.version, { retireJobId });
  }
  await deps.catalog.destroy(request.version);
  await appendAudit(deps.store, { actor: request.actor, action: "retire", version: request.version, reason: request.reason });
  return record;
}

/** What a new version takes from the service's config besides its index provider: under the gcp profile, the configured (Vertex) embedder. */
export function profileDefaults(config: Pick<Config, "profile" | "embedder">): Pick<LifecycleDeps, "defaultEmbedder"> {
  return config.profile === "gcp" ? { defaultEmbedder: config.embedder } : {};
}

/** The alias as callers see it: the journal is bookkeeping of the audit log. */
function withoutJournal(alias: AliasRecord): AliasRecord {
  const { journal: _journal, ...shown } = alias;
  return shown;
}
