import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import type { Logger } from "../../core/logger.js";
import type { ObjectStore } from "../../core/object-store.js";
import { aliasKey } from "./alias.js";

/**
 * Tells every process that the alias or a version record changed, so search
 * can hold both in memory (serving.ts) and still see a swap at its next
 * request: one Redis GET per search instead of two object-store reads.
 *
 * The stamp is a token in Redis, replaced by a fresh random one after every
 * change, plus a count of this process's own changes. A process that read
 * stamp S and then the records knows they are current while the stamp is
 * still S. Random rather than a counter: a Redis that lost its data (or
 * evicted the key) would count again from 1 and could repeat a stamp a
 * process still holds; a missing token is replaced by a new random one, so it
 * too reads as a change. The local count makes a process see its own changes
 * even when Redis missed the new token.
 */
export interface ChangeSignal {
  /** The current stamp: two equal stamps mean no announced change in between. Rejects when Redis cannot be read. */
  stamp(): Promise<string>;
  /** Announces a change that has committed. Never rejects: a Redis that missed it is logged, and other processes catch up by their recheck (serving.ts). */
  changed(): Promise<void>;
}

export const changeTokenKey = (prefix: string) => `${prefix}:lifecycle:changed`;

export function createChangeSignal(redis: Redis, prefix: string, logger: Logger): ChangeSignal {
  return createTokenSignal(redis, changeTokenKey(prefix), (error) =>
    logger.warn({ err: error }, "could not announce an alias or index version change in Redis; other processes see it at their next recheck (search.aliasRecheckMs)"),
  );
}

/** Writes to a version's LanceDB table, announced by the process that committed them (lancedb.ts, writeSignal). */
export const tableWritesKey = (prefix: string, version: string) => `${prefix}:lancedb:${version}:written`;

/** A stamp in Redis under `key`, as above; `missed` hears of an announcement Redis did not take. */
export function createTokenSignal(redis: Redis, key: string, missed: (error: unknown) => void): ChangeSignal {
  let local = 0;
  return {
    stamp: async () => {
      const token = (await redis.get(key)) ?? (await replaceMissing(redis, key));
      return `${local}:${token}`;
    },
    changed: async () => {
      local += 1;
      try {
        await redis.set(key, randomUUID());
      } catch (error) {
        missed(error);
      }
    },
  };
}

/** A token where Redis holds none; of processes racing to set one, the first wins and all read it. */
async function replaceMissing(redis: Redis, key: string): Promise<string> {
  await redis.set(key, randomUUID(), "NX");
  // Deleted again in between (another flush): a token nobody holds still reads as a change.
  return (await redis.get(key)) ?? randomUUID();
}

/** Whether a write to this key changes what search answers from: the alias, or a version record. */
const watched = (key: string) => key === aliasKey() || key.startsWith("indexes/"); // versionKey's folder

/**
 * The store every lifecycle write of a process goes through (runtime.ts): a
 * committed write of the alias or of a version record is announced before
 * the write's caller goes on, so a swap's HTTP answer is sent only after every
 * process can see it. A write that failed (a lost compare-and-swap) changed
 * nothing and is not announced.
 */
export function announcingChanges(store: ObjectStore, signal: ChangeSignal): ObjectStore {
  return {
    get: (key) => store.get(key),
    getStream: (key) => store.getStream(key),
    head: (key) => store.head(key),
    list: (prefix) => store.list(prefix),
    close: () => store.close(),
    put: async (key, body, options) => {
      const meta = await store.put(key, body, options);
      if (watched(key)) await signal.changed();
      return meta;
    },
    delete: async (key, options) => {
      const deleted = await store.delete(key, options);
      if (deleted && watched(key)) await signal.changed();
      return deleted;
    },
  };
}
