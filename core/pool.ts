/**
 * Runs `fn` over the items with at most `concurrency` calls in flight, and
 * resolves with the results in the items' order. A call that throws rejects
 * the whole run once the calls in flight have settled; no new call starts
 * after a failure or once `shouldStop` says so (results of items never
 * started are left undefined).
 */
export async function mapBounded<T, R>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T, index: number) => Promise<R>,
  options: { shouldStop?: () => boolean } = {},
): Promise<Array<R | undefined>> {
  const results: Array<R | undefined> = new Array<R | undefined>(items.length);
  let next = 0;
  let failed = false;
  const lane = async () => {
    while (!failed && next < items.length && !options.shouldStop?.()) {
      const index = next++;
      try {
        results[index] = await fn(items[index] as T, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  const lanes = Array.from({ length: Math.max(1, Math.min(concurrency, items.length)) }, lane);
  const settled = await Promise.allSettled(lanes);
  const rejection = settled.find((s): s is PromiseRejectedResult => s.status === "rejected");
  if (rejection) throw rejection.reason;
  return results;
}
