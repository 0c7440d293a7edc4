import { Redis, type RedisOptions } from "ioredis";
import { UnavailableError } from "../../core/errors.js";

/**
 * ioredis connections. Workers block on Redis and must retry for ever
 * (maxRetriesPerRequest: null); request paths should fail fast instead.
 */
export function createRedis(url: string, role: "worker" | "client"): Redis {
  const options: RedisOptions =
    role === "worker" ? { maxRetriesPerRequest: null, lazyConnect: true } : { maxRetriesPerRequest: 1, lazyConnect: true, enableOfflineQueue: true };
  const redis = new Redis(url, options);
  redis.on("error", () => undefined); // surfaced by the command that failed, not as an unhandled event
  return redis;
}

export async function connectRedis(redis: Redis, url: string): Promise<void> {
  try {
    await redis.connect();
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    throw new UnavailableError(`cannot reach Redis at ${redactUrl(url)}: ${(error as Error).message}. Start redis-server or set REDIS_URL.`, { cause: error });
  }
}

function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    if (parsed.password) parsed.password = "***";
    return parsed.toString();
  } catch {
    return url;
  }
}

/**
 * Why this Redis's eviction policy would lose ragops' data, or undefined when
 * it would not. Queues, leases and the chunk registry are data, not cache:
 * any policy but noeviction may drop them when memory runs short.
 */
export async function evictionProblem(redis: Redis): Promise<string | undefined> {
  const info = await redis.info("memory");
  const policy = /^maxmemory_policy:(\S+)/m.exec(info)?.[1];
  if (policy === undefined || policy === "noeviction") return undefined;
  return `Redis evicts keys under memory pressure (maxmemory-policy ${policy}): queued jobs, leases and the chunk registry could be dropped. Set maxmemory-policy noeviction (on Memorystore: the maxmemory-policy configuration of the instance).`;
}
