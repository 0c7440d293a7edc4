import type { Logger } from "pino";

interface ErrorEmitter {
  on(event: "error", listener: (error: Error) => void): unknown;
}

/**
 * BullMQ prints a queue's connection errors to the console, stack and all,
 * when nothing listens for them: during a Redis outage that is a stack per
 * reconnect attempt per queue. Commands on the queue still fail (or wait, for
 * the queues that retry for ever) with the reason; the workers log the outage.
 */
export function quietConnectionErrors<T extends ErrorEmitter>(emitter: T): T {
  emitter.on("error", () => undefined);
  return emitter;
}

/** Least time between two log lines about one worker's connection errors. */
const REPEAT_MS = 10_000;

/**
 * Logs a worker's errors as one warning per outage rather than one stack per
 * reconnect attempt: the first error, then at most one line every 10 s saying
 * how many more there were and the latest.
 */
export function logConnectionErrors(emitter: ErrorEmitter, logger: Logger, worker: string, now: () => number = Date.now): void {
  let lastLogged = Number.NEGATIVE_INFINITY;
  let unlogged = 0;
  emitter.on("error", (error) => {
    if (now() - lastLogged < REPEAT_MS) {
      unlogged += 1;
      return;
    }
    const more = unlogged ? ` (${unlogged} more since the last report)` : "";
    logger.warn({ worker, reason: error.message }, `${worker} worker: ${error.message}${more}; it keeps retrying`);
    lastLogged = now();
    unlogged = 0;
  });
}
