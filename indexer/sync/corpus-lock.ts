import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";
import { UnavailableError } from "../../core/errors.js";

/**
 * One writer at a time for a corpus's chunk registry and its indexes: a Redis
 * lease renewed while held. Its token is a fencing token: every registry write
 * checks it inside Redis (see registry.ts), so a process that lost the lease
 * (paused past the TTL) cannot write any more.
 */
export interface CorpusLease {
  key: string;
  token: string;
  /** True while this process still holds the lease. */
  held(): Promise<boolean>;
  release(): Promise<void>;
}

/** The lease key of one chunking profile's corpus (its registry, chunk store and indexes). */
export function corpusLockKey(redisPrefix: string, profile: string): string {
  return `${redisPrefix}:corpus:${profile}:lock`;
}

const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

async function acquireCorpusLease(redis: Redis, key: string, options: { ttlMs: number; waitMs: number }): Promise<CorpusLease> {
  const fence = await redis.incr(`${key}:fence`);
  const token = `${fence}:${randomUUID()}`;
  const deadline = Date.now() + options.waitMs;
  let delay = 5;
  while ((await redis.set(key, token, "PX", options.ttlMs, "NX")) !== "OK") {
    if (Date.now() > deadline) throw new UnavailableError(`another job held the lock ${key} for more than ${options.waitMs} ms; will retry`);
    await new Promise((resolve) => setTimeout(resolve, delay + Math.random() * delay));
    delay = Math.min(delay * 2, 20);
  }
  return heldLease(redis, key, token, options.ttlMs);
}

/** A lease this process just took: renewed every third of its TTL until released (a process that dies lets it lapse). */
function heldLease(redis: Redis, key: string, token: string, ttlMs: number): CorpusLease {
  const renewal = setInterval(() => void redis.eval(RENEW, 1, key, token, String(ttlMs)).catch(() => undefined), Math.max(50, ttlMs / 3));
  renewal.unref();
  return {
    key,
    token,
    held: async () => (await redis.get(key)) === token,
    release: async () => {
      clearInterval(renewal);
      await redis.eval(RELEASE, 1, key, token);
    },
  };
}

/**
 * Runs `fn` holding the lease at `key` if no other process holds it now;
 * otherwise returns undefined at once (work that someone else is doing, or
 * that can wait for the next round, such as a table's maintenance).
 */
export async function ifLeaseFree<T>(redis: Redis, key: string, ttlMs: number, fn: () => Promise<T>): Promise<T | undefined> {
  const token = randomUUID();
  if ((await redis.set(key, token, "PX", ttlMs, "NX")) !== "OK") return undefined;
  const lease = heldLease(redis, key, token, ttlMs);
  try {
    return await fn();
  } finally {
    await lease.release().catch(() => undefined);
  }
}

export async function withCorpusLease<T>(redis: Redis, key: string, options: { ttlMs: number; waitMs: number }, fn: (lease: CorpusLease) => Promise<T>): Promise<T> {
  const lease = await acquireCorpusLease(redis, key, options);
  try {
    return await fn(lease);
  } finally {
    await lease.release().catch(() => undefined);
  }
}
