import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { ConflictError } from "../../core/errors.js";
import { createLogger } from "../../core/logger.js";
import { swapLive } from "../../indexer/lifecycle/alias.js";
import { announcingChanges, createChangeSignal, type ChangeSignal } from "../../indexer/lifecycle/change-signal.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";

/** The two Redis commands the signal uses, on a map; `refuseWrites` makes SET fail as an unreachable Redis would. */
function fakeRedis(): { redis: Redis; refuseWrites: boolean } {
  const values = new Map<string, string>();
  const fake = {
    refuseWrites: false,
    redis: {
      get: async (key: string) => values.get(key) ?? null,
      set: async (key: string, value: string, mode?: "NX") => {
        if (fake.refuseWrites) throw new Error("Connection is closed.");
        if (mode === "NX" && values.has(key)) return null;
        values.set(key, value);
        return "OK";
      },
    } as unknown as Redis,
  };
  return fake;
}

const silent = createLogger({ log: { level: "silent" } });

describe("the change signal", () => {
  it("gives a new stamp after each announced change, and the same one while nothing changes", async () => {
    const signal = createChangeSignal(fakeRedis().redis, "t", silent);
    const first = await signal.stamp();
    expect(await signal.stamp()).toBe(first);
    await signal.changed();
    expect(await signal.stamp()).not.toBe(first);
  });

  it("shows this process its own change even when Redis refused the new token, and does not fail the change", async () => {
    const fake = fakeRedis();
    const signal = createChangeSignal(fake.redis, "t", silent);
    const before = await signal.stamp();
    fake.refuseWrites = true;
    await expect(signal.changed()).resolves.toBeUndefined();
    expect(await signal.stamp()).not.toBe(before);
  });

  it("is seen by another process: both read the token in Redis", async () => {
    const fake = fakeRedis();
    const here = createChangeSignal(fake.redis, "t", silent);
    const there = createChangeSignal(fake.redis, "t", silent);
    const seenThere = await there.stamp();
    await here.changed();
    expect(await there.stamp()).not.toBe(seenThere);
  });
});

describe("a store that announces lifecycle writes", () => {
  const counting = (): ChangeSignal & { count: number } => {
    const signal = { count: 0, stamp: async () => String(signal.count), changed: async () => void (signal.count += 1) };
    return signal;
  };

  it("announces committed writes of the alias and of version records, and nothing else", async () => {
    const signal = counting();
    const store = announcingChanges(createLocalDirStore({ root: mkdtempSync(join(tmpdir(), "ragops-signal-")) }), signal);
    await store.put("documents/a.json", "{}");
    await store.put("manifests/p/a.json", "{}");
    expect(signal.count).toBe(0);
    await swapLive(store, { to: "v1", expectedVersion: null, actor: "test" });
    expect(signal.count).toBe(1);
    await store.put("indexes/v1.json", "{}");
    expect(signal.count).toBe(2);
    await expect(store.put("indexes/v1.json", "{}", { ifGenerationMatch: 0 })).rejects.toBeInstanceOf(ConflictError);
    expect(signal.count).toBe(2); // a lost compare-and-swap changed nothing
    await store.delete("indexes/v1.json");
    await store.delete("indexes/v1.json"); // nothing left to delete
    expect(signal.count).toBe(3);
  });
});
