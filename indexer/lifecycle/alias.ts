import { failpoint } from "../../core/failpoints.js";
import { ConflictError } from "../../core/errors.js";
import { readJson, updateJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { randomUUID } from "node:crypto";
import { appendAudit, type AuditEntry } from "./audit.js";

/**
 * The `live` alias: which index version answers searches, and which one was
 * live before it (kept warm for rollback). One small object, changed only by
 * compare-and-swap on its generation, and the only place that says which
 * version is live or previous: a swap is one atomic write, so a crash at any
 * point leaves the old alias or the new one, never a half state.
 *
 * It also fences off retired versions (`retired`), because the store has
 * compare-and-swap on single objects only and "make v live" and "retire v"
 * must be decided against the same object. The protocol:
 *
 * - swap commits {live: to, previous: live} only if, in the alias it writes
 *   over, live is still the expected version and `to` is not fenced;
 * - rollback commits {live: previous, previous: live} only if, in the alias it
 *   writes over, live and previous are still the ones it checked and previous
 *   is not fenced;
 * - retire first adds v to the fence, only if, in the alias it writes over, v
 *   is neither live nor previous; only then does it mark v's record retired
 *   and drop v's index data.
 *
 * Each is one compare-and-swap whose condition is checked against the very
 * generation it replaces (a lost race re-reads and decides again), so the
 * commits are totally ordered and every interleaving keeps the invariant:
 * live and previous are never fenced. Swap keeps it (live is unfenced, `to`
 * is checked), rollback keeps it (it swaps two unfenced names), retire keeps
 * it (it fences neither). A fenced version never leaves the fence, so once
 * retire's fence has committed nothing can make v live again, and dropping its
 * data afterwards is safe. A retire that loses to a swap sees v live and is
 * refused; a swap that loses to a retire sees v fenced and is refused, even if
 * it had read v's record before the retire. The fence is written before the
 * record, so a crash in between leaves v fenced but not yet marked: retiring
 * it again finishes the job.
 */
export interface AliasRecord {
  /**
   * Audit entries of alias changes not yet appended to the audit log. A swap
   * or rollback writes its entry here in the same compare-and-swap as the
   * change, then appends it and removes it (flushAliasJournal), so the change
   * and its audit entry are one durable unit: a process killed in between
   * leaves the entry here, and the next alias change or audit read appends it.
   */
  journal?: AuditEntry[];
  live: string | null;
  previous: string | null;
  /** Versions retired (or being retired): never made live again. Absent in aliases written before it existed. */
  retired?: string[];
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

/** Whether the alias fences `version` off (it is retired, or being retired). */
export function isFenced(alias: AliasRecord, version: string): boolean {
  return alias.retired?.includes(version) ?? false;
}

/**
 * Makes `to` live if live is still `expectedVersion` (null: nothing is live
 * yet) and `to` is not retired. Of two operators racing with the same
 * expectation, one wins and the other gets a ConflictError that names the
 * version now live.
 */
export async function swapLive(store: ObjectStore, request: { to: string; expectedVersion: string | null; actor: string; audit?: AliasAudit }): Promise<AliasChange> {
  const entry = journalEntry(request.actor, request.audit);
  return changeLive(store, (alias) => {
    if (alias.live !== request.expectedVersion) throw staleExpectation(alias.live, request.expectedVersion);
    if (alias.live === request.to) throw new ConflictError(`${request.to} is already live`, { current: alias.live });
    if (isFenced(alias, request.to)) throw retiredTarget(request.to, "made live");
    return withJournal({ ...alias, live: request.to, previous: alias.live, updatedAt: new Date().toISOString(), updatedBy: request.actor }, entry, alias.live, request.to);
  });
}

/** What an alias change's audit entry says besides who, when, from and to. */
export type AliasAudit = Pick<AuditEntry, "action"> & Partial<Pick<AuditEntry, "version" | "reportId" | "reason">>;

function journalEntry(actor: string, audit: AliasAudit | undefined): AuditEntry | undefined {
  return audit ? { ...audit, id: randomUUID(), at: new Date().toISOString(), actor } : undefined;
}

function withJournal(alias: AliasRecord, entry: AuditEntry | undefined, from: string | null, to: string): AliasRecord {
  if (!entry) return alias;
  return { ...alias, journal: [...(alias.journal ?? []), { ...entry, from, to }] };
}

/**
 * Appends the alias journal's entries to the audit log (each once: appends
 * are idempotent by entry id), then removes them from the alias. Safe to run
 * any time, by any process.
 */
export async function flushAliasJournal(store: ObjectStore): Promise<void> {
  const { alias } = await readAlias(store);
  const pending = alias.journal ?? [];
  if (pending.length === 0) return;
  for (const entry of pending) await appendAudit(store, entry);
  const done = new Set(pending.map((e) => e.id));
  await updateJson<AliasRecord>(store, aliasKey(), (current) => {
    if (!current?.journal?.some((e) => done.has(e.id))) return undefined;
    const rest = current.journal.filter((e) => !done.has(e.id));
    const { journal: _journal, ...without } = current;
    return rest.length ? { ...without, journal: rest } : without;
  });
}

/**
 * Swaps live and previous back, if live is still `expectedVersion` (when
 * given; else the live version this call first reads). `admit` may refuse the
 * previous version (its record says it cannot serve); it is asked before the
 * commit, which then only goes ahead if live and previous are still the pair
 * it checked.
 */
export async function rollbackLive(store: ObjectStore, request: { actor: string; expectedVersion?: string | null; admit?: (previous: string, alias: AliasRecord) => Promise<void>; audit?: AliasAudit }): Promise<AliasChange> {
  const entry = journalEntry(request.actor, request.audit);
  const { alias: first } = await readAlias(store);
  const expected = request.expectedVersion !== undefined ? request.expectedVersion : first.live;
  if (first.live !== expected) throw staleExpectation(first.live, expected);
  const target = first.previous;
  if (!target) throw new ConflictError("there is no previous version to roll back to", { current: first.live });
  await request.admit?.(target, first);
  return changeLive(store, (alias) => {
    if (alias.live !== expected) throw staleExpectation(alias.live, expected);
    if (alias.previous !== target) throw new ConflictError(`previous is ${alias.previous ?? "unset"}, not ${target}; reload and try again`, { current: alias.live, previous: alias.previous });
    if (isFenced(alias, target)) throw retiredTarget(target, "rolled back to");
    return withJournal({ ...alias, live: target, previous: alias.live, updatedAt: new Date().toISOString(), updatedBy: request.actor }, entry, alias.live, target);
  });
}

/**
 * The first step of retiring `version` (see the protocol above): fences it
 * off, unless it is live or previous. Fencing a version already fenced changes
 * nothing, so an interrupted retire can run again.
 */
export async function fenceRetired(store: ObjectStore, request: { version: string; actor: string }): Promise<AliasRecord> {
  const { version } = request;
  const { after } = await updateJson<AliasRecord>(store, aliasKey(), (current) => {
    const alias = current ?? EMPTY;
    if (alias.live === version || alias.previous === version) {
      throw new ConflictError(`index version ${version} is ${alias.live === version ? "live" : "previous"}; swap or roll back first`, { alias });
    }
    if (isFenced(alias, version)) return undefined;
    return { ...alias, retired: [...(alias.retired ?? []), version], updatedAt: new Date().toISOString(), updatedBy: request.actor };
  });
  return after?.value ?? EMPTY;
}

/** Decides the next alias from the current one and writes it by compare-and-swap; a lost race decides again on what won. */
async function changeLive(store: ObjectStore, decide: (alias: AliasRecord) => AliasRecord): Promise<AliasChange> {
  const { before, after } = await updateJson<AliasRecord>(store, aliasKey(), (current) => decide(current ?? EMPTY));
  failpoint("alias-written");
  return { from: before?.value.live ?? null, to: after.value.live as string, alias: after.value, generation: after.generation };
}

function staleExpectation(current: string | null, expected: string | null): ConflictError {
  return new ConflictError(`live is ${current ?? "unset"}, not ${expected ?? "unset"}; reload and try again`, { current, expected });
}

function retiredTarget(version: string, what: string): ConflictError {
  return new ConflictError(`index version ${version} is retired (its index data is dropped); it cannot be ${what}`, { version });
}
