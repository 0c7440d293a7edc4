import { spawn } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { readAlias } from "../indexer/lifecycle/alias.js";
import { createLocalDirStore } from "../src/stores/local-dir.js";

describe("a swap interrupted by a crash", () => {
  it("leaves the old alias or the new one, whole, whenever the process is killed", async () => {
    const root = mkdtempSync(join(tmpdir(), "ragops-swap-crash-"));
    const store = createLocalDirStore({ root });
    const seen = new Set<string>();
    // Kill after a varying number of completed swaps, until kills have left both versions live at
    // least once (each swap flips the alias, so this needs no luck with timing), bounded by count.
    for (let kill = 0; kill < 40 && (kill < 6 || seen.size < 2); kill += 1) {
      const child = spawn(process.execPath, ["--import", "tsx", "test/support/swap-loop.ts", root], { stdio: ["ignore", "pipe", "inherit"] });
      const swapsBeforeKill = 1 + (kill % 5);
      let swaps = 0;
      await new Promise<void>((resolve) =>
        child.stdout.on("data", (data: Buffer) => {
          swaps += data.toString().split("swapped").length - 1;
          if (swaps >= swapsBeforeKill) resolve();
        }),
      );
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.kill("SIGKILL");
      await exited;
      // A reader after the crash (a restarted server) sees a complete alias naming the two versions.
      const { alias } = await readAlias(store);
      expect(["v1", "v2"]).toContain(alias.live);
      expect(alias.previous === null || (["v1", "v2"].includes(alias.previous) && alias.previous !== alias.live)).toBe(true);
      seen.add(String(alias.live));
      const keys: string[] = [];
      for await (const meta of store.list("")) keys.push(meta.key);
      expect(keys).toEqual(["aliases/live.json"]); // no half-written object became visible
    }
    expect([...seen].sort()).toEqual(["v1", "v2"]); // the kills landed at different points of the swap cycle
  }, 240_000);
});
