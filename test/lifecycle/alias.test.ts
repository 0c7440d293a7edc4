import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConflictError } from "../../core/errors.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";
import type { ObjectStore } from "../../core/object-store.js";
import { fenceRetired, readAlias, rollbackLive, swapLive } from "../../indexer/lifecycle/alias.js";
import { appendAudit, listAudit } from "../../indexer/lifecycle/audit.js";

const freshStore = () => createLocalDirStore({ root: mkdtempSync(join(tmpdir(), "ragops-alias-")) });

describe("live alias", () => {
  it("swaps by compare-and-swap and keeps the previous version for rollback", async () => {
    const store = freshStore();
    await swapLive(store, { to: "v1", expectedVersion: null, actor: "ops" });
    const change = await swapLive(store, { to: "v2", expectedVersion: "v1", actor: "ops" });
    expect(change).toMatchObject({ from: "v1", to: "v2", alias: { live: "v2", previous: "v1", updatedBy: "ops" } });
    const back = await rollbackLive(store, { actor: "ops" });
    expect(back.alias).toMatchObject({ live: "v1", previous: "v2" });
  });

  it("lets exactly one of many concurrent swaps with the same expectation win; the others name the version now live", async () => {
    const store = freshStore();
    await swapLive(store, { to: "blue", expectedVersion: null, actor: "ops" });
    const attempts = await Promise.allSettled(Array.from({ length: 12 }, (_, i) => swapLive(store, { to: `green-${i}`, expectedVersion: "blue", actor: `operator-${i}` })));
    const winners = attempts.filter((a): a is PromiseFulfilledResult<Awaited<ReturnType<typeof swapLive>>> => a.status === "fulfilled");
    expect(winners).toHaveLength(1);
    const live = winners[0]!.value.to;
    for (const loser of attempts.filter((a): a is PromiseRejectedResult => a.status === "rejected")) {
      expect(loser.reason).toBeInstanceOf(ConflictError);
      expect((loser.reason as ConflictError).message).toContain(`live is ${live}, not blue`);
    }
    expect((await readAlias(store)).alias).toMatchObject({ live, previous: "blue" });
  });

  it("refuses a swap whose expectation is stale and a rollback with nothing to roll back to", async () => {
    const store = freshStore();
    await expect(swapLive(store, { to: "v2", expectedVersion: "v1", actor: "ops" })).rejects.toThrow(/live is unset, not v1/);
    await swapLive(store, { to: "v1", expectedVersion: null, actor: "ops" });
    await expect(rollbackLive(store, { actor: "ops" })).rejects.toThrow(/no previous version/);
  });

  it("leaves the old alias whole when the write is interrupted", async () => {
    const store = freshStore();
    await swapLive(store, { to: "v1", expectedVersion: null, actor: "ops" });
    const failing: ObjectStore = { ...store, put: async () => Promise.reject(new Error("connection reset")) };
    await expect(swapLive(failing, { to: "v2", expectedVersion: "v1", actor: "ops" })).rejects.toThrow("connection reset");
    expect((await readAlias(store)).alias).toMatchObject({ live: "v1", previous: null });
  });
});

describe("audit log", () => {
  it("keeps every entry when many are appended at once", async () => {
    const store = freshStore();
    await Promise.all(Array.from({ length: 30 }, (_, i) => appendAudit(store, { actor: `op${i}`, action: "swap", from: "v1", to: `v${i}` })));
    const page = await listAudit(store, { limit: 100 });
    expect(page.entries).toHaveLength(30);
    expect(new Set(page.entries.map((e) => e.actor)).size).toBe(30);
  });

  it("pages oldest first with a cursor", async () => {
    const store = freshStore();
    for (let i = 0; i < 5; i += 1) await appendAudit(store, { actor: "ops", action: "create", version: `v${i}`, at: `2026-11-2${i < 3 ? 3 : 4}T10:00:0${i}Z` });
    const first = await listAudit(store, { limit: 2 });
    expect(first.entries.map((e) => e.version)).toEqual(["v0", "v1"]);
    const second = await listAudit(store, { limit: 2, after: first.next });
    expect(second.entries.map((e) => e.version)).toEqual(["v2", "v3"]);
    const last = await listAudit(store, { limit: 2, after: second.next });
    expect(last).toEqual({ entries: [expect.objectContaining({ version: "v4" })] });
  });
});

describe("retired versions fenced off in the alias", () => {
  it("refuses to make a fenced version live, by swap or by rollback", async () => {
    const store = freshStore();
    await swapLive(store, { to: "v1", expectedVersion: null, actor: "ops" });
    await fenceRetired(store, { version: "r1", actor: "ops" });
    await expect(swapLive(store, { to: "r1", expectedVersion: "v1", actor: "ops" })).rejects.toThrow(/r1 is retired .* cannot be made live/);
    expect((await readAlias(store)).alias).toMatchObject({ live: "v1", previous: null, retired: ["r1"] });
  });

  it("refuses to fence the live or the previous version, whatever the operator last read", async () => {
    const store = freshStore();
    await swapLive(store, { to: "v1", expectedVersion: null, actor: "ops" });
    await swapLive(store, { to: "v2", expectedVersion: "v1", actor: "ops" });
    await expect(fenceRetired(store, { version: "v2", actor: "ops" })).rejects.toThrow(/v2 is live/);
    await expect(fenceRetired(store, { version: "v1", actor: "ops" })).rejects.toBeInstanceOf(ConflictError);
    expect((await readAlias(store)).alias.retired).toBeUndefined();
  });

  it("fences a version once, so an interrupted retire can run again", async () => {
    const store = freshStore();
    await swapLive(store, { to: "v1", expectedVersion: null, actor: "ops" });
    await fenceRetired(store, { version: "r1", actor: "ops" });
    const before = await readAlias(store);
    await fenceRetired(store, { version: "r1", actor: "ops" });
    expect(await readAlias(store)).toEqual(before);
  });

  it("still swaps when only the fence changed since the swap read the alias", async () => {
    const store = freshStore();
    await swapLive(store, { to: "v1", expectedVersion: null, actor: "ops" });
    // The retire's fence commits between the swap's read of the alias and its write.
    let fenced = false;
    const racing: ObjectStore = {
      ...store,
      get: async (key) => {
        const got = await store.get(key);
        if (!fenced) {
          fenced = true;
          await fenceRetired(store, { version: "r1", actor: "ops" });
        }
        return got;
      },
    };
    const swapped = await swapLive(racing, { to: "v2", expectedVersion: "v1", actor: "ops" });
    expect(swapped).toMatchObject({ from: "v1", to: "v2" });
    expect((await readAlias(store)).alias).toMatchObject({ live: "v2", previous: "v1", retired: ["r1"] });
  });
});
