import { ConflictError } from "../../src/errors.js";
import { readJson, writeJson } from "../../src/stores/json-records.js";
import type { ObjectStore } from "../../src/stores/object-store.js";

/**
 * The `live` alias: which index version answers searches, and which one was
 * live before it (kept warm for rollback). One small object, changed only by
 * compare-and-swap on its generation, and the only place that says which
 * version is live or previous: a swap is one atomic write, so a crash at any
 * point leaves the old alias or the new one, never a half state.
 */
export interface AliasRecord {
  live: string | null;
  previous: string | null;
  updatedAt: string;
  updatedBy: string;
}

export interface AliasChange {
  from: string | null;
  to: string;
  alias: AliasRecord;
  generation: string;
}

export const aliasKey = (name = "live") => `aliases/${name}.json`;

const EMPTY: AliasRecord = { live: null, previous: null, updatedAt: new Date(0).toISOString(), updatedBy: "" };

export async function readAlias(store: ObjectStore): Promise<{ alias: AliasRecord; generation: string | undefined }> {
  const found = await readJson<AliasRecord>(store, aliasKey());
  return { alias: found?.value ?? EMPTY, generation: found?.generation };
}

/**
 * Makes `to` live if live is still `expectedVersion` (null: nothing is live
 * yet). Of two operators racing with the same expectation, one wins and the
 * other gets a ConflictError that names the version now live.
 */
export async function swapLive(store: ObjectStore, request: { to: string; expectedVersion: string | null; actor: string }): Promise<AliasChange> {
  const { alias, generation } = await readAlias(store);
  if (alias.live !== request.expectedVersion) throw staleExpectation(alias.live, request.expectedVersion);
  if (alias.live === request.to) throw new ConflictError(`${request.to} is already live`, { current: alias.live });
  const next: AliasRecord = { live: request.to, previous: alias.live, updatedAt: new Date().toISOString(), updatedBy: request.actor };
  return commit(store, alias, generation, next, request.expectedVersion);
}

/** Swaps live and previous back, if live is still `expectedVersion` (when given). */
export async function rollbackLive(store: ObjectStore, request: { actor: string; expectedVersion?: string | null }): Promise<AliasChange> {
  const { alias, generation } = await readAlias(store);
  if (request.expectedVersion !== undefined && alias.live !== request.expectedVersion) throw staleExpectation(alias.live, request.expectedVersion);
  if (!alias.previous) throw new ConflictError("there is no previous version to roll back to", { current: alias.live });
  const next: AliasRecord = { live: alias.previous, previous: alias.live, updatedAt: new Date().toISOString(), updatedBy: request.actor };
  return commit(store, alias, generation, next, alias.live);
}

async function commit(store: ObjectStore, before: AliasRecord, generation: string | undefined, next: AliasRecord, expected: string | null): Promise<AliasChange> {
  try {
    const written = await writeJson(store, aliasKey(), next, generation ?? 0);
    return { from: before.live, to: next.live as string, alias: next, generation: written.generation };
  } catch (error) {
    if (!(error instanceof ConflictError)) throw error;
    // Someone else changed the alias between our read and our write: say what it is now.
    const { alias } = await readAlias(store);
    throw staleExpectation(alias.live, expected);
  }
}

function staleExpectation(current: string | null, expected: string | null): ConflictError {
  return new ConflictError(`live is ${current ?? "unset"}, not ${expected ?? "unset"}; reload and try again`, { current, expected });
}
