import type { Config } from "../config/schema.js";
import type { Embedder } from "./embedders/embedder.js";
import type { VectorIndex } from "./indexes/vector-index.js";

/**
 * Latency added in front of an embedder and an index, for benchmarks and
 * capacity tests (config `simulate`): a local run on the offline embedder and
 * LanceDB answers in microseconds where Vertex AI takes tens of milliseconds,
 * so without it nothing shows whether more workers would add throughput.
 *
 * Thin wrappers: the delay is awaited, then the call goes to the adapter as
 * it was made; results, errors, identity and the adapter's other members
 * (reads, extra methods tests and repairs use) pass through untouched. A
 * latency of 0 returns the adapter itself, so production never sees a wrapper.
 */
export type Sleep = (ms: number) => Promise<void>;

const sleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** Every `embed` call waits `ms` first. */
export function withEmbedLatency(embedder: Embedder, ms: number, wait: Sleep = sleep): Embedder {
  return ms > 0 ? delayMethods(embedder, ["embed"], ms, wait) : embedder;
}

/** The index writes Vertex makes remote calls of (upsert, updateRestricts, remove) each wait `ms` first. */
export function withIndexWriteLatency<T extends VectorIndex>(index: T, ms: number, wait: Sleep = sleep): T {
  return ms > 0 ? delayMethods(index, ["upsert", "updateRestricts", "remove"], ms, wait) : index;
}

/** The line a process logs at start when latency is simulated (nobody should find it on by surprise), or undefined when it is off. */
export function simulatedLatencyWarning(config: Pick<Config, "simulate">): string | undefined {
  const { embedLatencyMs, indexWriteLatencyMs } = config.simulate;
  if (embedLatencyMs === 0 && indexWriteLatencyMs === 0) return undefined;
  return `simulated latency is on (simulate.*, for benchmarks and capacity tests): ${embedLatencyMs} ms per embedder call, ${indexWriteLatencyMs} ms per index write`;
}

/**
 * The object itself behind a proxy whose named methods wait first. A proxy
 * rather than a new object, so whatever else the adapter has is still there,
 * and each method runs with the adapter as `this`.
 */
function delayMethods<T extends object>(target: T, methods: ReadonlyArray<keyof T & string>, ms: number, wait: Sleep): T {
  const delayed = new Map<PropertyKey, unknown>();
  for (const name of methods) {
    delayed.set(name, async (...args: unknown[]) => {
      await wait(ms);
      return (target[name] as unknown as (...args: unknown[]) => Promise<unknown>).apply(target, args);
    });
  }
  return new Proxy(target, {
    get(object, property) {
      if (delayed.has(property)) return delayed.get(property);
      const value: unknown = Reflect.get(object, property, object);
      return typeof value === "function" ? (value as (...args: unknown[]) => unknown).bind(object) : value;
    },
  });
}
