import { ConflictError, UnavailableError } from "../../core/errors.js";
import { freshRead } from "../../core/fresh-read.js";
import type { ObjectStore } from "../../core/object-store.js";
import { isFenced, readAlias, type AliasRecord } from "./alias.js";
import type { ChangeSignal } from "./change-signal.js";
import { cannotServe, getVersion, type IndexVersion } from "./versions.js";

/**
 * Which version record a search answers from, held in memory: the alias and
 * the version records are read from the object store once, then again only
 * when the change signal's stamp moved (every write of the alias or a version
 * record announces itself, change-signal.ts) or `recheckMs` has passed (a
 * change whose announcement was lost: Redis down at that moment, a process
 * killed between the write and the announcement, an alias edited by hand).
 *
 * Why a swap is seen at the next request: a swap writes the alias, then
 * announces, then answers. A request that starts after the answer reads the
 * new stamp; what it answers from was read after some request observed that
 * stamp, so after the write. A request resolves once and answers from that
 * one record, so it never mixes versions. A retired version is fenced in the
 * alias before its record moves and its data is dropped (alias.ts), and the
 * fence is an announced alias write, so no request that starts after the
 * retire began can resolve it.
 */
export interface ServingDeps {
  store: ObjectStore;
  signal: ChangeSignal;
  /** config search.aliasRecheckMs; 0 reads the alias and the record on every call. */
  recheckMs: number;
  now?: () => number;
}

export interface Serving {
  /** The live version's record, or the named version's: refused as VersionCatalog.live and open refuse them (and a fenced version too). */
  resolve(version?: string): Promise<IndexVersion>;
  /** Forgets what is held (a version's data was just dropped). */
  forget(): void;
}

/** What was read from the store after the signal showed `stamp`; records are read on first use. */
interface Snapshot {
  stamp: string | undefined;
  readAt: number;
  alias: Promise<AliasRecord>;
  records: Map<string, Promise<IndexVersion>>;
}

export function createServing(deps: ServingDeps): Serving {
  const now = deps.now ?? Date.now;
  let held: Snapshot | undefined;
  // Concurrent searches share a read of the stamp, each one begun after the search asked: one GET per Redis round trip under load, not one per search.
  const readStamp = freshRead(() => deps.signal.stamp());

  const current = async (): Promise<Snapshot> => {
    // Redis unreadable: no stamp, so nothing held is trusted and the store is read.
    const stamp = await readStamp().catch(() => undefined);
    if (held && stamp !== undefined && held.stamp === stamp && now() - held.readAt < deps.recheckMs) return held;
    const snapshot: Snapshot = { stamp, readAt: now(), alias: readAlias(deps.store).then((read) => read.alias), records: new Map() };
    // A failed read is not held: the next request tries again.
    snapshot.alias.catch(() => (held === snapshot ? (held = undefined) : undefined));
    held = snapshot;
    return snapshot;
  };

  const recordIn = (snapshot: Snapshot, version: string): Promise<IndexVersion> => {
    let record = snapshot.records.get(version);
    if (!record) {
      const reading = getVersion(deps.store, version);
      reading.catch(() => snapshot.records.get(version) === reading && snapshot.records.delete(version));
      snapshot.records.set(version, reading);
      record = reading;
    }
    return record;
  };

  return {
    resolve: async (version) => {
      const snapshot = await current();
      const alias = await snapshot.alias;
      if (version !== undefined) {
        const record = await recordIn(snapshot, version);
        refuseRetired(record, alias);
        return record;
      }
      const record = await recordIn(snapshot, liveName(alias));
      refuseUnservableLive(record, alias);
      return record;
    },
    forget: () => {
      held = undefined;
    },
  };
}

/** The version the alias makes live; none yet is an UnavailableError. */
export function liveName(alias: AliasRecord): string {
  if (!alias.live) throw new UnavailableError("no index version is live yet; build one and swap it in");
  return alias.live;
}

/** Never answer from a live version whose index is gone or partial (an alias left so by an older release, or edited by hand). */
export function refuseUnservableLive(record: IndexVersion, alias: AliasRecord): void {
  const problem = cannotServe(record, alias);
  if (problem) throw new UnavailableError(`the live index version ${record.version} is ${problem}; roll back or swap in a ready version (ragops index rollback / ragops index swap)`, { details: { version: record.version, state: record.state } });
}

/** A retired version, or one being retired (fenced in the alias), is never searched. */
export function refuseRetired(record: IndexVersion, alias?: AliasRecord): void {
  if (record.state === "retired" || (alias && isFenced(alias, record.version))) throw new ConflictError(`index version ${record.version} is retired`, { version: record.version });
}
