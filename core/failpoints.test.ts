import { spawnSync } from "node:child_process";
import { describe, expect, it } from "vitest";

/** Runs a script that passes a failpoint three times, printing each pass; returns what it printed and how it ended. */
function run(failpoint: string | undefined) {
  const script = `import { failpoint } from "./core/failpoints.ts"; for (const i of [1, 2, 3]) { failpoint("alias-written"); failpoint("other"); console.log("passed " + i); }`;
  const env = { ...process.env, RAGOPS_FAILPOINT: failpoint ?? "" };
  const result = spawnSync(process.execPath, ["--import", "tsx", "--input-type=module", "-e", script], { env, encoding: "utf8" });
  return { printed: result.stdout.trim().split("\n").filter(Boolean), signal: result.signal };
}

describe("failpoint", () => {
  it("SIGKILLs the process the n-th time it is reached, and never when unset or named otherwise", () => {
    expect(run("alias-written:2")).toEqual({ printed: ["passed 1"], signal: "SIGKILL" });
    expect(run("alias-written")).toEqual({ printed: [], signal: "SIGKILL" });
    expect(run(undefined)).toEqual({ printed: ["passed 1", "passed 2", "passed 3"], signal: null });
    expect(run("elsewhere")).toEqual({ printed: ["passed 1", "passed 2", "passed 3"], signal: null });
  });
});
