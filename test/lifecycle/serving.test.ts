import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConflictError, NotFoundError } from "../../core/errors.js";
import type { ObjectMeta, ObjectStore } from "../../core/object-store.js";
import { aliasKey, fenceRetired, readAlias, rollbackLive, swapLive } from "../../indexer/lifecycle/alias.js";
import { announcingChanges, type ChangeSignal } from "../../indexer/lifecycle/change-signal.js";
import { createServing } from "../../indexer/lifecycle/serving.js";
import { createVersion, moveVersion } from "../../indexer/lifecycle/versions.js";

/**
 * The serving view on an in-memory store and signal. Each store and signal
 * call can be made to wait its turn from a fast-check scheduler and then runs
 * atomically, so every interleaving of a swap's steps with a search's is one
 * the scheduler can pick.
 */
interface Commit {
  at: number;
  live: string | null;
  announcedAt?: number;
}

interface Memory {
  store: ObjectStore;
  signal: ChangeSignal & { lose(): void; failing: boolean };
  /** Reads served by the store. */
  reads(): number;
  /** Logical time: every store and signal step, and whatever a test marks, takes one tick. */
  tick(): number;
  /** Each committed alias write: when, the version it made live, and when the announcement that followed it was made. */
  commits: Commit[];
  /** Store reads that fail, once each. */
  failNextRead(): void;
  /** From now on, each store and signal step waits its turn from `s`. */
  schedule(s: fc.Scheduler): void;
}

function memory(): Memory {
  let s: fc.Scheduler | undefined;
  const objects = new Map<string, { body: Buffer; generation: number }>();
  let generation = 0;
  let clock = 0;
  let reads = 0;
  let failRead = false;
  let token: number | undefined = 0;
  let tokens = 0;
  const commits: Memory["commits"] = [];
  const turn = async <T>(label: string, step: () => T): Promise<T> => {
    if (s) await s.schedule(Promise.resolve(), label);
    clock += 1;
    return step();
  };
  const meta = (key: string, entry: { body: Buffer; generation: number }): ObjectMeta => ({ key, generation: String(entry.generation), size: entry.body.length, updated: new Date(0), contentType: "application/json", metadata: {} });
  const store: ObjectStore = {
    get: (key) =>
      turn(`get ${key}`, () => {
        reads += 1;
        if (failRead) {
          failRead = false;
          throw new Error("store unreachable");
        }
        const entry = objects.get(key);
        if (!entry) throw new NotFoundError(key);
        return { meta: meta(key, entry), body: entry.body };
      }),
    put: (key, body, options) =>
      turn(`put ${key}`, () => {
        const current = objects.get(key);
        const expected = options?.ifGenerationMatch;
        if (expected !== undefined && String(current?.generation ?? 0) !== String(expected)) throw new ConflictError(`generation mismatch on ${key}`);
        const entry = { body: Buffer.from(body as string), generation: ++generation };
        objects.set(key, entry);
        if (key === aliasKey()) commits.push({ at: clock, live: (JSON.parse(body as string) as { live: string | null }).live });
        return meta(key, entry);
      }),
    head: (key) => turn(`head ${key}`, () => (objects.has(key) ? meta(key, objects.get(key) as { body: Buffer; generation: number }) : undefined)),
    delete: (key) => turn(`delete ${key}`, () => objects.delete(key)),
    getStream: () => Promise.reject(new Error("not used")),
    list: () => {
      throw new Error("not used");
    },
    close: async () => undefined,
  };
  const signal = {
    failing: false,
    stamp: async () => {
      const read = await turn("stamp", () => {
        if (signal.failing) throw new Error("redis unreachable");
        // As in Redis: a token that went missing is replaced by one nobody has seen.
        token ??= ++tokens;
        return String(token);
      });
      // The reply is on its way for a while after Redis read the token: a change may commit and be announced meanwhile.
      if (s) await s.schedule(Promise.resolve(), "stamp reply");
      return read;
    },
    changed: () =>
      turn("changed", () => {
        token = ++tokens;
        for (const commit of commits) commit.announcedAt ??= clock;
      }),
    lose: () => void (token = undefined),
  };
  return {
    store: announcingChanges(store, signal),
    signal,
    reads: () => reads,
    tick: () => ++clock,
    commits,
    failNextRead: () => void (failRead = true),
    schedule: (scheduler) => void (s = scheduler),
  };
}

/** Versions v1, v2 and v3, built, with v1 live. */
async function seeded(m: Memory): Promise<void> {
  for (const version of ["v1", "v2", "v3"]) {
    await createVersion(m.store, { version, config: {}, actor: "test", maxTopK: 100, defaultIndexProvider: "lancedb" });
    await moveVersion(m.store, version, "build-succeeded");
  }
  await swapLive(m.store, { to: "v1", expectedVersion: null, actor: "test" });
}

const HOUR = 3_600_000;

describe("the serving view of the alias", () => {
  it("holds the alias and the live record: no store read until a change is announced", async () => {
    const m = memory();
    await seeded(m);
    const serving = createServing({ store: m.store, signal: m.signal, recheckMs: HOUR });
    expect((await serving.resolve()).version).toBe("v1");
    const before = m.reads();
    for (let i = 0; i < 10; i += 1) expect((await serving.resolve()).version).toBe("v1");
    expect(m.reads()).toBe(before);
    await swapLive(m.store, { to: "v2", expectedVersion: "v1", actor: "test" });
    expect((await serving.resolve()).version).toBe("v2");
  });

  it("reads the store again after recheckMs even when no change was announced", async () => {
    const m = memory();
    await seeded(m);
    let now = 0;
    const serving = createServing({ store: m.store, signal: m.signal, recheckMs: 1_000, now: () => now });
    await serving.resolve();
    const before = m.reads();
    now = 999;
    await serving.resolve();
    expect(m.reads()).toBe(before);
    now = 1_000;
    await serving.resolve();
    expect(m.reads()).toBeGreaterThan(before);
  });

  it("reads the store on every call while the signal cannot be read, and holds again once it can", async () => {
    const m = memory();
    await seeded(m);
    const serving = createServing({ store: m.store, signal: m.signal, recheckMs: HOUR });
    m.signal.failing = true;
    const before = m.reads();
    await serving.resolve();
    await serving.resolve();
    expect(m.reads()).toBe(before + 4); // the alias and the live record, twice
    m.signal.failing = false;
    await serving.resolve();
    const held = m.reads();
    await serving.resolve();
    expect(m.reads()).toBe(held);
  });

  it("reads the store again when the token went missing (a Redis that lost its data), then holds under the new token", async () => {
    const m = memory();
    await seeded(m);
    const serving = createServing({ store: m.store, signal: m.signal, recheckMs: HOUR });
    await serving.resolve();
    m.signal.lose();
    const before = m.reads();
    await serving.resolve();
    expect(m.reads()).toBeGreaterThan(before);
    const held = m.reads();
    await serving.resolve();
    expect(m.reads()).toBe(held);
  });

  it("does not hold a failed read: the next call reads again", async () => {
    const m = memory();
    await seeded(m);
    const serving = createServing({ store: m.store, signal: m.signal, recheckMs: HOUR });
    m.failNextRead();
    await expect(serving.resolve()).rejects.toThrow("store unreachable");
    expect((await serving.resolve()).version).toBe("v1");
  });

  it("refuses a named version once the alias fences it, before its record says retired", async () => {
    const m = memory();
    await seeded(m);
    const serving = createServing({ store: m.store, signal: m.signal, recheckMs: HOUR });
    expect((await serving.resolve("v3")).version).toBe("v3");
    await fenceRetired(m.store, { version: "v3", actor: "test" });
    await expect(serving.resolve("v3")).rejects.toBeInstanceOf(ConflictError);
    await expect(serving.resolve("v3")).rejects.toThrow(/v3 is retired/);
  });

  it("answers from the live version of some moment of the call, and never from one replaced by a change announced before it began, whatever the interleaving with swaps, rollbacks and a lost token", async () => {
    const step = fc.constantFrom("swap", "rollback", "lose-token", "search", "search", "search");
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(step, { minLength: 1, maxLength: 10 }), async (s, steps) => {
        const m = memory();
        await seeded(m);
        await swapLive(m.store, { to: "v2", expectedVersion: "v1", actor: "test" }); // a previous to roll back to
        m.schedule(s);
        const serving = createServing({ store: m.store, signal: m.signal, recheckMs: HOUR });
        const searches: Array<Promise<{ start: number; end: number; version: string }>> = [];
        // One operator changes the alias, one step after another; searches start whenever the scheduler lets them.
        const operator = (async () => {
          for (const kind of steps) {
            if (kind === "swap") {
              const { alias } = await readAlias(m.store);
              await swapLive(m.store, { to: alias.live === "v3" ? "v1" : "v3", expectedVersion: alias.live, actor: "op" });
            } else if (kind === "rollback") {
              await rollbackLive(m.store, { actor: "op" });
            } else if (kind === "lose-token") {
              await s.schedule(Promise.resolve(), "redis loses the token");
              m.signal.lose();
            } else {
              searches.push(
                (async () => {
                  await s.schedule(Promise.resolve(), "a search starts");
                  const start = m.tick();
                  const record = await serving.resolve();
                  return { start, end: m.tick(), version: record.version };
                })(),
              );
            }
          }
        })();
        await s.waitFor(operator);
        const answers = await s.waitFor(Promise.all(searches));
        for (const answer of answers) {
          expect(liveDuring(m.commits, answer.start, answer.end), `${JSON.stringify(answer)} with commits ${JSON.stringify(m.commits)}`).toContain(answer.version);
        }
      }),
      { numRuns: 1500 },
    );
  });
});

/**
 * The versions a call from `start` to `end` may answer with: a change is
 * visible from its commit, and the version it replaced may still be answered
 * until the change is announced (that is when a swap's HTTP answer goes out).
 * So each version made live by a commit before `end`, unless the next change
 * was already announced before `start`.
 */
function liveDuring(commits: Commit[], start: number, end: number): Array<string | null> {
  return commits.flatMap((commit, i) => {
    const replacedAnnouncedAt = commits[i + 1]?.announcedAt ?? Infinity;
    return commit.at < end && replacedAnnouncedAt > start ? [commit.live] : [];
  });
}
