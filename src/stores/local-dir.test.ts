import { existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { objectStoreConformance } from "../../test/conformance/object-store.js";
import { createLocalDirStore } from "./local-dir.js";

objectStoreConformance("local-dir", async () => createLocalDirStore({ root: mkdtempSync(join(tmpdir(), "ragops-store-")) }));

describe("local-dir store", () => {
  it("names the key and the problem of a storage failure, retryable, never its internal temp path", async () => {
    const root = mkdtempSync(join(tmpdir(), "ragops-store-"));
    const store = createLocalDirStore({ root });
    await store.put("documents/a.json", "{}");
    // The temp folder is gone and a file stands in its place: every write fails in the file system (ENOTDIR), as on a broken mount.
    rmSync(join(root, ".tmp"), { recursive: true });
    writeFileSync(join(root, ".tmp"), "");
    const failure = await store.put("documents/a.json", "{}").catch((error: unknown) => error);
    expect(failure).toMatchObject({ code: "unavailable", retryable: true, status: 503 });
    expect((failure as Error).message).toMatch(/could not write "documents\/a\.json": .*\(ENOTDIR\)/);
    expect((failure as Error).message).not.toMatch(/\.tmp|ragops-store-/);
  });

  it("sweeps temp files left by killed writers while it stays open", async () => {
    const root = mkdtempSync(join(tmpdir(), "ragops-store-"));
    const store = createLocalDirStore({ root, staleTempMs: 60_000, sweepIntervalMs: 20 });
    await store.put("k", "v");
    const left = join(root, ".tmp", "left-by-a-kill");
    writeFileSync(left, "partial");
    const anHourAgo = new Date(Date.now() - 60 * 60 * 1000);
    utimesSync(left, anHourAgo, anHourAgo);
    for (let i = 0; existsSync(left) && i < 200; i += 1) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(existsSync(left)).toBe(false);
    await store.close();
  });

  it("writes nothing outside its root for a traversal key", async () => {
    const parent = mkdtempSync(join(tmpdir(), "ragops-store-parent-"));
    const store = createLocalDirStore({ root: join(parent, "objects") });
    await expect(store.put("../escaped.txt", "x")).rejects.toThrow();
    expect(readdirSync(parent)).toEqual([]);
  });

  it("keeps no temp files after a failed write", async () => {
    const root = mkdtempSync(join(tmpdir(), "ragops-store-"));
    const store = createLocalDirStore({ root });
    await store.put("k", "v");
    await expect(store.put("k", "w", { ifGenerationMatch: 0 })).rejects.toThrow();
    expect(readdirSync(join(root, ".tmp"))).toEqual([]);
  });

  it("removes temp files left by a crashed writer when it opens, and keeps those still being written", async () => {
    const root = mkdtempSync(join(tmpdir(), "ragops-store-"));
    mkdirSync(join(root, ".tmp"));
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    for (const name of ["left-by-a-crash", "left-by-a-kill"]) {
      writeFileSync(join(root, ".tmp", name), "partial upload");
      utimesSync(join(root, ".tmp", name), twoHoursAgo, twoHoursAgo);
    }
    // Another process may be streaming an upload into the shared directory right now.
    writeFileSync(join(root, ".tmp", "another-process-writing"), "partial upload");
    const store = createLocalDirStore({ root, staleTempMs: 60 * 60 * 1000 });
    await store.put("k", "v");
    expect(readdirSync(join(root, ".tmp"))).toEqual(["another-process-writing"]);
    expect((await store.get("k")).body.toString()).toBe("v");
  });
});
