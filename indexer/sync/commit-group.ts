import type { Redis } from "ioredis";
import { UnavailableError } from "../../core/errors.js";
import { mapBounded } from "../../core/pool.js";
import type { VectorIndex } from "../indexes/vector-index.js";
import { withCorpusLease, type CorpusLease } from "./corpus-lock.js";
import type { DocumentManifest } from "./manifest.js";
import { bufferIndex, type BufferedIndex } from "./write-buffer.js";
import type { ChunkStore } from "./chunk-store.js";
import { holdClaims, type HeldClaims } from "./pending-claims.js";
import type { ChunkRegistry } from "./registry.js";

/**
 * Group commit for the corpus lease. The documents of one process that are
 * ready to write (parsed, chunked, embedded) while another group holds the
 * lease wait together, then take the lease once and run one after another
 * as they would alone; their new datapoints are written in one batch per
 * index (write-buffer.ts) and their manifests after it. One lease and one
 * index write per group instead of per document is what lets throughput grow
 * with documents in flight: the section that must be serial stays short.
 *
 * Order of a group: each document's registry and chunk store writes, in turn
 * (every document sees what the ones before it wrote, index included, through
 * the buffered indexes, and canonical claims included, through the held
 * claims) → the lease checked → the held-back datapoints written → the
 * canonical claims whose chunks an index holds written, the others dropped
 * and compensated (pending-claims.ts) → each successful document's manifest
 * (the mark that it is synced) and its other after-flush steps → the lease
 * released. A crash anywhere before the manifests leaves documents whose
 * manifests are old, so their jobs run again and upsertMissing writes
 * whatever the index lacks; a chunk an index holds but the registry does not
 * claim is claimed again then (classify.ts).
 *
 * A failed index write, at the end or in the middle of the group (a removal
 * or restricts update writes what is held back first), fails every document
 * of the group: the datapoints it carried were theirs.
 */
export interface CommitSession {
  readonly lease: CorpusLease;
  /** The index of a target as the group sees it. */
  index(version: string, index: VectorIndex): BufferedIndex;
  /** The chunk registry as the group sees it: canonical claims are written only once an index holds their chunks (one registry per group: the group's lease is one profile's). */
  registry(registry: ChunkRegistry, chunks: ChunkStore): ChunkRegistry;
  /** Manifests the group will write (null: delete), by document: readers in the group see them before they are written. */
  readonly manifests: ReadonlyMap<string, DocumentManifest | null>;
  /** Writes (or deletes) the document's manifest after the group's index writes. */
  deferManifest(documentId: string, manifest: DocumentManifest | null, write: () => Promise<void>): void;
}

export interface CommitRequest {
  redis: Redis;
  lockKey: string;
  lockOptions: { ttlMs: number; waitMs: number };
  /** Runs once the group has the lease, before any of its work (the registry check, registry-rebuild.ts); a failure fails the group. */
  prepare?: (lease: CorpusLease) => Promise<void>;
}

export type CommitWork<T> = (session: CommitSession) => Promise<T>;

/** Chunk ids a work will ask an index about: the group reads them all in one call when it takes the lease. */
export interface IndexPrime {
  version: string;
  index: VectorIndex;
  ids: readonly string[];
}

export interface Committer {
  commit<T>(request: CommitRequest, work: CommitWork<T>, primes?: readonly IndexPrime[]): Promise<T>;
}

/** Manifest writes (and other after-flush steps) of one group at once. */
const AFTER_FLUSH_CONCURRENCY = 8;

interface Pending {
  request: CommitRequest;
  work: CommitWork<unknown>;
  primes: readonly IndexPrime[];
  resolve: (value: unknown) => void;
  reject: (error: unknown) => void;
}

/** What one group did, for the log: documents, time waiting for the lease, time holding it, time of its index writes. */
export interface GroupStats {
  documents: number;
  failed: number;
  waitedMs: number;
  heldMs: number;
  flushMs: number;
  datapoints: number;
}

/** Groups of at most `maxGroup` documents per lease. */
export function createCommitter(options: { maxGroup: number; onGroup?: (stats: GroupStats) => void }): Committer {
  const queues = new Map<string, Pending[]>();
  const drain = async (lockKey: string) => {
    const queue = queues.get(lockKey) as Pending[];
    while (queue.length > 0) await runGroup(queue.splice(0, Math.max(1, options.maxGroup)), options.onGroup);
    queues.delete(lockKey);
  };
  return {
    commit: <T>(request: CommitRequest, work: CommitWork<T>, primes: readonly IndexPrime[] = []) =>
      new Promise<T>((resolve, reject) => {
        const pending: Pending = { request, work: work as CommitWork<unknown>, primes, resolve: resolve as (value: unknown) => void, reject };
        const queue = queues.get(request.lockKey);
        if (queue) queue.push(pending);
        else {
          queues.set(request.lockKey, [pending]);
          void drain(request.lockKey);
        }
      }),
  };
}

/** Without grouping: each document takes the lease alone (tests, one-off tools). */
export const commitAlone: Committer = {
  commit: <T>(request: CommitRequest, work: CommitWork<T>, primes: readonly IndexPrime[] = []) =>
    new Promise<T>((resolve, reject) => void runGroup([{ request, work: work as CommitWork<unknown>, primes, resolve: resolve as (value: unknown) => void, reject }])),
};

async function runGroup(group: readonly Pending[], onGroup?: (stats: GroupStats) => void): Promise<void> {
  const first = group[0] as Pending;
  try {
    const outcomes = await commitGroup(first.request, group.map((p) => p.work), group.flatMap((p) => p.primes), onGroup);
    group.forEach((pending, i) => {
      const outcome = outcomes[i];
      if (outcome && "value" in outcome) pending.resolve(outcome.value);
      else pending.reject(outcome?.error ?? new Error("no outcome for a commit"));
    });
  } catch (error) {
    for (const pending of group) pending.reject(error);
  }
}

type Outcome = { value: unknown } | { error: unknown };

/** Runs the works under one lease; a failure of the lease or of the index flush fails them all (their jobs retry). */
async function commitGroup(request: CommitRequest, works: ReadonlyArray<CommitWork<unknown>>, primes: readonly IndexPrime[], onGroup?: (stats: GroupStats) => void): Promise<Outcome[]> {
  const asked = performance.now();
  return withCorpusLease(request.redis, request.lockKey, request.lockOptions, async (lease) => {
    const taken = performance.now();
    await request.prepare?.(lease);
    const buffers = new Map<string, BufferedIndex>();
    const manifests = new Map<string, DocumentManifest | null>();
    const afterFlush: Array<{ owner: number; write: () => Promise<void> }> = [];
    let owner = 0;
    let claims: HeldClaims | undefined;
    // Known, from memory, to be in some index of the group: read by the group, or written by a flush that succeeded.
    const held = (hash: string) => [...buffers.values()].some((b) => b.holds(hash));
    const session: CommitSession = {
      lease,
      index: (version, index) => {
        let buffered = buffers.get(version);
        if (!buffered) buffers.set(version, (buffered = bufferIndex(index)));
        return buffered;
      },
      registry: (registry, chunks) => {
        claims ??= holdClaims(registry, chunks);
        claims.setOwner(owner);
        return claims.registry;
      },
      manifests,
      deferManifest: (documentId, manifest, write) => {
        manifests.set(documentId, manifest);
        afterFlush.push({ owner, write });
      },
    };
    // What the indexes hold of every chunk of the group, one read per index instead of one per document.
    for (const [version, { index, ids }] of unionByVersion(primes)) await session.index(version, index).prime([...ids]);
    const outcomes: Outcome[] = [];
    for (const [i, work] of works.entries()) {
      owner = i;
      claims?.setOwner(i);
      try {
        outcomes.push({ value: await work(session) });
      } catch (error) {
        outcomes.push({ error });
        // Its claims no index holds yet go now, with their held-back datapoints: nobody after it has seen them.
        const dropped = claims?.dropOwner(i, held) ?? [];
        for (const buffered of buffers.values()) buffered.discard(dropped);
      }
    }
    const datapoints = [...buffers.values()].reduce((n, b) => n + b.pending(), 0);
    const flushStarted = performance.now();
    const failure = await flushAll(lease, buffers.values(), datapoints);
    const flushMs = performance.now() - flushStarted;
    if (failure) {
      // What the failed write carried is in no index: its claims are dropped. Best effort, as the lease may be what was lost.
      await claims?.settle(lease, held).catch(() => undefined);
      throw failure.error;
    }
    await claims?.settle(lease, held);
    // The manifests of different documents are independent objects: written side by side, not one after another.
    await mapBounded(afterFlush, AFTER_FLUSH_CONCURRENCY, async ({ owner: i, write }) => {
      if ("error" in (outcomes[i] as Outcome)) return;
      try {
        await write();
      } catch (error) {
        outcomes[i] = { error };
      }
    });
    onGroup?.({ documents: works.length, failed: outcomes.filter((o) => "error" in o).length, waitedMs: taken - asked, heldMs: performance.now() - taken, flushMs, datapoints });
    return outcomes;
  });
}

/** Writes what the buffers hold back, under the lease; the first failure of a write (now or earlier in the group), if any. */
async function flushAll(lease: CorpusLease, buffers: Iterable<BufferedIndex>, datapoints: number): Promise<{ error: unknown } | undefined> {
  const all = [...buffers];
  const earlier = all.find((b) => b.failure() !== undefined);
  if (earlier) return { error: earlier.failure() };
  if (datapoints === 0) return undefined;
  // The index cannot fence writes itself: a process that lost the lease must not write.
  if (!(await lease.held())) return { error: new UnavailableError("the corpus lock was lost before the group's index writes; the jobs will retry") };
  for (const buffered of all) {
    try {
      await buffered.flush();
    } catch (error) {
      return { error };
    }
  }
  return undefined;
}

function unionByVersion(primes: readonly IndexPrime[]): Map<string, { index: VectorIndex; ids: Set<string> }> {
  const out = new Map<string, { index: VectorIndex; ids: Set<string> }>();
  for (const { version, index, ids } of primes) {
    const entry = out.get(version) ?? { index, ids: new Set<string>() };
    for (const id of ids) entry.ids.add(id);
    out.set(version, entry);
  }
  return out;
}
