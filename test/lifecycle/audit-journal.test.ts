import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { ObjectStore } from "../../core/object-store.js";
import { readAlias } from "../../indexer/lifecycle/alias.js";
import { listAudit } from "../../indexer/lifecycle/audit.js";
import { rollback, swap } from "../../indexer/lifecycle/operations.js";
import { createVersion, moveVersion } from "../../indexer/lifecycle/versions.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";

/** A store whose audit appends die (the process killed right after the alias write) until `healed`. */
function killedBeforeAudit(store: ObjectStore): ObjectStore & { healed: boolean } {
  const wrapped = {
    ...store,
    healed: false,
    put: async (key: string, ...rest: Parameters<ObjectStore["put"]> extends [string, ...infer R] ? R : never) => {
      if (key.startsWith("audit/") && !wrapped.healed) throw new Error("killed between the alias write and the audit append");
      return store.put(key, ...rest);
    },
  };
  return wrapped;
}

async function twoReadyVersions(store: ObjectStore): Promise<void> {
  for (const version of ["v1", "v2"]) {
    await createVersion(store, { version, config: {}, actor: "test", maxTopK: 100, defaultIndexProvider: "lancedb" });
    await moveVersion(store, version, "build-succeeded");
  }
}

describe("a swap and its audit entry", () => {
  it("stay one unit when the process dies between the alias write and the audit append", async () => {
    const store = killedBeforeAudit(createLocalDirStore({ root: mkdtempSync(join(tmpdir(), "ragops-journal-")) }));
    await twoReadyVersions(store);
    store.healed = true;
    await swap({ store }, { to: "v1", expectedVersion: null, force: true, reason: "first", actor: "ops" });
    store.healed = false;

    // The audit append fails (as a kill would leave it): the swap itself is done, and its entry rides in the alias.
    await swap({ store }, { to: "v2", expectedVersion: "v1", force: true, reason: "smaller chunks", actor: "ops" });
    const { alias } = await readAlias(store);
    expect(alias).toMatchObject({ live: "v2", previous: "v1" });
    expect(alias.journal).toEqual([expect.objectContaining({ action: "forced-promotion", from: "v1", to: "v2", reason: "smaller chunks", actor: "ops" })]);

    // Any later reader of the audit log finds the entry, once.
    store.healed = true;
    const entries = (await listAudit(store)).entries.filter((e) => e.action === "forced-promotion");
    expect(entries.map((e) => [e.from, e.to, e.reason])).toEqual([
      [null, "v1", "first"],
      ["v1", "v2", "smaller chunks"],
    ]);
    expect((await readAlias(store)).alias.journal).toBeUndefined();
    expect((await listAudit(store)).entries.filter((e) => e.action === "forced-promotion")).toHaveLength(2);
  });

  it("is flushed by the next alias change when nobody reads the log in between", async () => {
    const store = killedBeforeAudit(createLocalDirStore({ root: mkdtempSync(join(tmpdir(), "ragops-journal-")) }));
    await twoReadyVersions(store);
    await swap({ store }, { to: "v1", expectedVersion: null, force: true, reason: "first", actor: "ops" });
    store.healed = true;
    await swap({ store }, { to: "v2", expectedVersion: "v1", force: true, reason: "second", actor: "ops" });
    await rollback({ store }, { actor: "ops", reason: "undo" });
    expect((await readAlias(store)).alias.journal).toBeUndefined();
    const actions = (await listAudit(store)).entries.map((e) => `${e.action}:${e.from ?? "-"}>${e.to ?? "-"}`);
    expect(actions).toEqual(["forced-promotion:->v1", "forced-promotion:v1>v2", "rollback:v2>v1"]);
  });
});
