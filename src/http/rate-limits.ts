import type { Redis } from "ioredis";
import { RateLimiterMemory, RateLimiterRedis, RateLimiterRes, type RateLimiterAbstract } from "rate-limiter-flexible";
import { TooManyRequestsError } from "../../core/errors.js";
import type { Config } from "../../config/schema.js";
import type { RateLimitKind } from "./route-policy.js";

/**
 * Per-token and per-address rate limits, counted in Redis so that every
 * control-plane process shares them (fixed windows of limits.rate.windowSeconds).
 * When Redis is not ready each process counts on its own in memory instead of
 * failing the request: a limit is a guard, not a reason to refuse service.
 */
export interface Caller {
  /** The token's name; undefined in open mode. */
  token: string | undefined;
  address: string;
}

export interface RateLimits {
  /** Counts one request of this kind; throws TooManyRequestsError past a limit. */
  consume(kind: RateLimitKind, caller: Caller): Promise<void>;
  /** Seconds until an address may present tokens again, or undefined when it may now. */
  authBlocked(address: string): Promise<number | undefined>;
  /** Counts a wrong token; the seconds it is blocked for when this failure crossed the limit. */
  authFailed(address: string): Promise<number | undefined>;
}

interface Limiter {
  limiter: RateLimiterAbstract;
  points: number;
  /** What the 429 names: the setting and its meaning. */
  setting: string;
  what: string;
}

const retrySeconds = (ms: number) => Math.max(1, Math.ceil(ms / 1000));

export function createRateLimits(redis: Redis, config: Config): RateLimits {
  const rate = config.limits.rate;
  const duration = rate.windowSeconds;
  const limiter = (name: string, points: number, setting: string, what: string): Limiter | undefined =>
    points === 0
      ? undefined
      : {
          limiter: new RateLimiterRedis({
            storeClient: redis,
            keyPrefix: `${config.redis.prefix}:ratelimit:${name}`,
            points,
            duration,
            rejectIfRedisNotReady: true,
            insuranceLimiter: new RateLimiterMemory({ points, duration }),
          }),
          points,
          setting,
          what,
        };
  const perKind: Record<RateLimitKind, { token: Limiter | undefined; address: Limiter | undefined }> = {
    search: {
      token: limiter("search:token", rate.searchPerToken, "limits.rate.searchPerToken", "searches per token"),
      address: limiter("search:address", rate.searchPerAddress, "limits.rate.searchPerAddress", "searches per client address"),
    },
    upload: {
      token: limiter("upload:token", rate.uploadsPerToken, "limits.rate.uploadsPerToken", "uploads per token"),
      address: limiter("upload:address", rate.uploadsPerAddress, "limits.rate.uploadsPerAddress", "uploads per client address"),
    },
  };
  const authFailures = limiter("auth-failures", rate.authFailuresPerAddress, "limits.rate.authFailuresPerAddress", "requests with a wrong token per client address");

  const consumeOne = async (limit: Limiter | undefined, key: string | undefined): Promise<void> => {
    if (!limit || key === undefined) return;
    try {
      await limit.limiter.consume(key);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const seconds = retrySeconds(rejection.msBeforeNext);
      throw new TooManyRequestsError(`rate limit reached: ${limit.points} ${limit.what} every ${duration} s (${limit.setting}); retry after ${seconds} s`, seconds, { limit: limit.setting, points: limit.points, windowSeconds: duration });
    }
  };

  return {
    consume: async (kind, caller) => {
      const { token, address } = perKind[kind];
      await Promise.all([consumeOne(token, caller.token), consumeOne(address, caller.address)]);
    },
    authBlocked: async (address) => {
      if (!authFailures) return undefined;
      const state = await authFailures.limiter.get(address);
      return state && state.consumedPoints >= authFailures.points ? retrySeconds(state.msBeforeNext) : undefined;
    },
    authFailed: async (address) => {
      if (!authFailures) return undefined;
      try {
        const state = await authFailures.limiter.consume(address);
        return state.consumedPoints >= authFailures.points ? retrySeconds(state.msBeforeNext) : undefined;
      } catch (rejection) {
        if (!(rejection instanceof RateLimiterRes)) throw rejection;
        return retrySeconds(rejection.msBeforeNext);
      }
    },
  };
}

/** What a 429 for wrong tokens says. */
export function authBlockedError(config: Config, seconds: number): TooManyRequestsError {
  const { authFailuresPerAddress, windowSeconds } = config.limits.rate;
  return new TooManyRequestsError(
    `too many requests with a wrong API token from this address: ${authFailuresPerAddress} every ${windowSeconds} s is the limit (limits.rate.authFailuresPerAddress); retry after ${seconds} s`,
    seconds,
    { limit: "limits.rate.authFailuresPerAddress", points: authFailuresPerAddress, windowSeconds },
  );
}
