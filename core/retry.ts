import { setTimeout as sleepFor } from "node:timers/promises";

/**
 * Retries with jittered exponential backoff, for calls to a remote service that
 * fail now and then (rate limits, a busy or restarting backend).
 */
export interface RetryPolicy {
  /** Attempts in all, the first one included (1: never retry). */
  maxAttempts: number;
  /** Ceiling of the delay before the first retry, ms; the ceiling doubles on each retry. */
  baseDelayMs: number;
  /** Largest delay between two attempts, ms. */
  maxDelayMs: number;
}

export interface RetryOptions extends RetryPolicy {
  /** Whether another attempt can help after this failure. */
  isRetryable(error: unknown): boolean;
  /** Called before each wait: the failure, the attempt that failed (1-based), the delay, ms. */
  onRetry?(error: unknown, attempt: number, delayMs: number): void;
  /** Uniform draw in [0, 1). @defaultValue Math.random */
  random?: () => number;
  /** @defaultValue a timer */
  sleep?: (ms: number) => Promise<void>;
}

/**
 * The wait before retry number `retry` (1-based): uniform in [0, ceiling), the
 * ceiling min(maxDelayMs, baseDelayMs × 2^(retry − 1)). Full jitter: clients
 * throttled together spread out instead of coming back in step.
 */
export function backoffDelay(retry: number, policy: Pick<RetryPolicy, "baseDelayMs" | "maxDelayMs">, random: () => number = Math.random): number {
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** Math.min(retry - 1, 52));
  return random() * ceiling;
}

/**
 * Calls `attempt` (with its 1-based number) until it succeeds, fails in a way
 * that is not retryable, or has failed maxAttempts times; then throws that last
 * failure as it is, so the caller can say what went wrong.
 */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? ((ms: number) => sleepFor(ms));
  for (let n = 1; ; n += 1) {
    try {
      return await attempt(n);
    } catch (error) {
      if (n >= options.maxAttempts || !options.isRetryable(error)) throw error;
      const delayMs = backoffDelay(n, options, options.random);
      options.onRetry?.(error, n, delayMs);
      await sleep(delayMs);
    }
  }
}
