import { describe, expect, it } from "vitest";
import { loadConfig } from "../config/load.js";
import type { Embedder } from "./embedders/embedder.js";
import { createOfflineHashingEmbedder } from "./embedders/offline-hashing.js";
import type { Datapoint, StoredRestricts, VectorIndex } from "./indexes/vector-index.js";
import { simulatedLatencyWarning, withEmbedLatency, withIndexWriteLatency } from "./simulated-latency.js";

/** A sleep that records what it was asked for and resolves at once, so nothing here depends on wall time. */
function recordingSleep() {
  const calls: number[] = [];
  let pending = 0;
  const sleep = async (ms: number) => {
    calls.push(ms);
    pending += 1;
    await Promise.resolve();
    pending -= 1;
  };
  return { calls, sleep, pending: () => pending };
}

const restricts = (doc: string): StoredRestricts => ({ restricts: { documentIds: [doc], tags: [], contentTypes: ["text/markdown"] }, numericRestricts: {} });

/** An index in memory that records the order of what happens to it. */
function recordingIndex(log: string[]): VectorIndex & { extra(): string } {
  const held = new Map<string, StoredRestricts>();
  return {
    name: "memory",
    dimensions: 4,
    upsert: async (datapoints: readonly Datapoint[]) => {
      log.push(`upsert ${datapoints.map((d) => d.id).join(",")}`);
      for (const d of datapoints) held.set(d.id, { restricts: d.restricts, numericRestricts: d.numericRestricts });
    },
    updateRestricts: async (updates) => {
      log.push(`updateRestricts ${updates.map((u) => u.id).join(",")}`);
      for (const u of updates) if (held.has(u.id)) held.set(u.id, { restricts: u.restricts, numericRestricts: u.numericRestricts });
    },
    remove: async (ids) => {
      log.push(`remove ${ids.join(",")}`);
      for (const id of ids) held.delete(id);
    },
    fetch: async (ids) => {
      log.push("fetch");
      return new Map(ids.flatMap((id) => (held.has(id) ? [[id, held.get(id) as StoredRestricts] as const] : [])));
    },
    query: async () => {
      log.push("query");
      return [...held.keys()].map((id) => ({ id, score: 1 }));
    },
    termStats: async (dimensions) => {
      log.push("termStats");
      return { datapoints: 0, frequencies: dimensions.map(() => 0) };
    },
    count: async () => {
      log.push("count");
      return held.size;
    },
    close: async () => undefined,
    destroy: async () => undefined,
    extra() {
      return `extra on ${this.name}`;
    },
  };
}

describe("simulated embedder latency", () => {
  it("waits the configured delay before every embed call and returns the embedder's vectors unchanged", async () => {
    const real = createOfflineHashingEmbedder({ dimensions: 64 });
    const { calls, sleep } = recordingSleep();
    const slow = withEmbedLatency(real, 50, sleep);
    const texts = ["battery pack replacement", "charging dock clearance"];
    const vectors = await slow.embed(texts, { purpose: "document" });
    await slow.embed(["one more"], { purpose: "query" });
    expect(calls).toEqual([50, 50]);
    expect(vectors).toEqual(await real.embed(texts, { purpose: "document" }));
  });

  it("keeps the embedder's identity, so cached vectors and index versions still match it", () => {
    const real = createOfflineHashingEmbedder({ dimensions: 64 });
    const slow = withEmbedLatency(real, 50, recordingSleep().sleep);
    expect(slow.identity).toBe(real.identity);
  });

  it("awaits the delay before the call reaches the embedder", async () => {
    const order: string[] = [];
    const real: Embedder = { identity: { provider: "p", model: "m", version: "1", dimensions: 2 }, embed: async (texts) => (order.push("embed"), texts.map(() => Float32Array.of(1, 0))) };
    const slow = withEmbedLatency(real, 10, async () => {
      order.push("sleep started");
      await Promise.resolve();
      order.push("sleep ended");
    });
    await slow.embed(["x"], { purpose: "document" });
    expect(order).toEqual(["sleep started", "sleep ended", "embed"]);
  });

  it("is the embedder itself when the latency is 0", () => {
    const real = createOfflineHashingEmbedder({ dimensions: 64 });
    expect(withEmbedLatency(real, 0)).toBe(real);
  });
});

describe("simulated index write latency", () => {
  it("waits the configured delay before every upsert, updateRestricts and remove, and not before reads", async () => {
    const log: string[] = [];
    const { calls, sleep } = recordingSleep();
    const index = withIndexWriteLatency(recordingIndex(log), 30, (ms) => (log.push(`sleep ${ms}`), sleep(ms)));
    await index.upsert([{ id: "a", vector: [1, 0, 0, 0], ...restricts("d1") }, { id: "b", vector: [0, 1, 0, 0], ...restricts("d1") }]);
    await index.updateRestricts([{ id: "a", ...restricts("d2") }]);
    await index.remove(["b"]);
    await index.fetch(["a"]);
    await index.query([1, 0, 0, 0], { k: 5 });
    await index.count();
    expect(calls).toEqual([30, 30, 30]);
    expect(log).toEqual(["sleep 30", "upsert a,b", "sleep 30", "updateRestricts a", "sleep 30", "remove b", "fetch", "query", "count"]);
  });

  it("leaves what the index holds and answers as the index alone would", async () => {
    const plain = recordingIndex([]);
    const slow = withIndexWriteLatency(recordingIndex([]), 30, recordingSleep().sleep);
    for (const index of [plain, slow]) {
      await index.upsert([{ id: "a", vector: [1, 0, 0, 0], ...restricts("d1") }, { id: "b", vector: [0, 1, 0, 0], ...restricts("d1") }]);
      await index.updateRestricts([{ id: "a", ...restricts("d2") }, { id: "missing", ...restricts("d3") }]);
      await index.remove(["b", "never-there"]);
    }
    expect(await slow.fetch(["a", "b"])).toEqual(await plain.fetch(["a", "b"]));
    expect(await slow.count()).toBe(await plain.count());
    expect(await slow.query([1, 0, 0, 0], { k: 5 })).toEqual(await plain.query([1, 0, 0, 0], { k: 5 }));
  });

  it("keeps the index's name, dimensions and the adapter's own members (tests and repairs use them)", () => {
    const real = recordingIndex([]);
    const slow = withIndexWriteLatency(real, 30, recordingSleep().sleep);
    expect(slow.name).toBe("memory");
    expect(slow.dimensions).toBe(4);
    expect(slow.extra()).toBe("extra on memory");
  });

  it("passes a write's failure through unchanged", async () => {
    const real = recordingIndex([]);
    const failure = new Error("index unavailable");
    real.upsert = async () => {
      throw failure;
    };
    const slow = withIndexWriteLatency(real, 30, recordingSleep().sleep);
    await expect(slow.upsert([])).rejects.toBe(failure);
  });

  it("is the index itself when the latency is 0", () => {
    const real = recordingIndex([]);
    expect(withIndexWriteLatency(real, 0)).toBe(real);
  });
});

describe("simulated latency settings", () => {
  it("are off by default", () => {
    expect(loadConfig({ env: {} }).simulate).toEqual({ embedLatencyMs: 0, indexWriteLatencyMs: 0 });
    expect(simulatedLatencyWarning(loadConfig({ env: {} }))).toBeUndefined();
  });

  it("are read from RAGOPS_SIMULATE_EMBED_LATENCY_MS and RAGOPS_SIMULATE_INDEX_WRITE_LATENCY_MS", () => {
    const config = loadConfig({ env: { RAGOPS_SIMULATE_EMBED_LATENCY_MS: "50", RAGOPS_SIMULATE_INDEX_WRITE_LATENCY_MS: "30" } });
    expect(config.simulate).toEqual({ embedLatencyMs: 50, indexWriteLatencyMs: 30 });
  });

  it("refuse a negative latency, naming the variable", () => {
    expect(() => loadConfig({ env: { RAGOPS_SIMULATE_EMBED_LATENCY_MS: "-1" } })).toThrowError(/RAGOPS_SIMULATE_EMBED_LATENCY_MS="-1" \(simulate\.embedLatencyMs\)/);
  });

  it("give a warning naming both delays when either is on", () => {
    const warning = simulatedLatencyWarning(loadConfig({ env: { RAGOPS_SIMULATE_INDEX_WRITE_LATENCY_MS: "30" } }));
    expect(warning).toMatch(/simulated latency/);
    expect(warning).toMatch(/0 ms per embedder call/);
    expect(warning).toMatch(/30 ms per index write/);
  });
});
