import { performance } from "node:perf_hooks";
import { setImmediate as nextTurn } from "node:timers/promises";

/**
 * Long loops on the worker's main thread (thousands of chunks of one large
 * document) hand the event loop back every few milliseconds, so BullMQ renews
 * job locks, HTTP requests are answered and other jobs progress meanwhile.
 */
export type Pause = () => Promise<void> | undefined;

/** A pause that yields when the loop has held the event loop for `sliceMs` (ms) since it last yielded. @defaultValue 20 */
export function createPause(sliceMs = 20): Pause {
  let since = performance.now();
  return () => {
    if (performance.now() - since < sliceMs) return undefined;
    return nextTurn().then(() => {
      since = performance.now();
    });
  };
}

/** Items in slices of `size`, one `run` per slice, yielding between slices: one huge Redis pipeline or index call is one long block. */
export async function inSlices<T>(items: readonly T[], size: number, run: (slice: T[]) => Promise<void>, pause: Pause = createPause(0)): Promise<void> {
  for (let i = 0; i < items.length; i += size) {
    await pause();
    await run(items.slice(i, i + size));
  }
}
