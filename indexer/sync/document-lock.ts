import { randomUUID } from "node:crypto";
import type { Redis } from "ioredis";

/**
 * One job at a time per document, across all workers: a Redis lease with a
 * random token, renewed while the job runs and released only by its owner.
 */
const RELEASE = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("del", KEYS[1]) else return 0 end`;
const RENEW = `if redis.call("get", KEYS[1]) == ARGV[1] then return redis.call("pexpire", KEYS[1], ARGV[2]) else return 0 end`;

export interface DocumentLease {
  release(): Promise<void>;
}

export async function tryLockDocument(redis: Redis, prefix: string, documentId: string, ttlMs = 30_000): Promise<DocumentLease | undefined> {
  const key = `${prefix}:lock:doc:${documentId}`;
  const token = randomUUID();
  const acquired = await redis.set(key, token, "PX", ttlMs, "NX");
  if (acquired !== "OK") return undefined;
  const renewal = setInterval(() => void redis.eval(RENEW, 1, key, token, String(ttlMs)).catch(() => undefined), ttlMs / 3);
  renewal.unref();
  return {
    release: async () => {
      clearInterval(renewal);
      await redis.eval(RELEASE, 1, key, token);
    },
  };
}
