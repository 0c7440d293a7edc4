/** Swaps v1 <-> v2 on a local object store as fast as it can, until killed (test/swap-crash.int.test.ts). */
import { readAlias, rollbackLive, swapLive } from "../../indexer/lifecycle/alias.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";

const store = createLocalDirStore({ root: process.argv[2] as string });
if (!(await readAlias(store)).alias.live) await swapLive(store, { to: "v1", expectedVersion: null, actor: "loop" });
process.stdout.write("ready\n");
for (;;) {
  const { alias } = await readAlias(store);
  if (alias.previous) await rollbackLive(store, { actor: "loop", expectedVersion: alias.live });
  else await swapLive(store, { to: alias.live === "v1" ? "v2" : "v1", expectedVersion: alias.live, actor: "loop" });
  process.stdout.write("swapped\n");
}
