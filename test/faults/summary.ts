import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import type { FaultTally } from "./tally.js";

declare module "vitest" {
  export interface ProvidedContext {
    faultTallyFile: string;
  }
}

/** Sums the scenarios' tallies. Pure. */
export function summarize(tallies: readonly FaultTally[]): Omit<FaultTally, "scenario"> & { scenarios: number } {
  const sum = (pick: (t: FaultTally) => number) => tallies.reduce((total, t) => total + pick(t), 0);
  return { scenarios: tallies.length, faults: sum((t) => t.faults), recoveries: sum((t) => t.recoveries), lost: sum((t) => t.lost), duplicates: sum((t) => t.duplicates) };
}

/** Gives the fault tests a file to append their tallies to, and prints the summary once they are done. */
export default function setup(project: TestProject): () => void {
  const dir = mkdtempSync(join(tmpdir(), "ragops-faults-"));
  const file = join(dir, "tally.jsonl");
  project.provide("faultTallyFile", file);
  return () => {
    const tallies = existsSync(file)
      ? readFileSync(file, "utf8")
          .split("\n")
          .filter(Boolean)
          .map((line) => JSON.parse(line) as FaultTally)
      : [];
    rmSync(dir, { recursive: true, force: true });
    const lines = tallies.map((t) => `  ${t.scenario.padEnd(48)} faults ${String(t.faults).padStart(3)}  recoveries ${String(t.recoveries).padStart(3)}  lost ${t.lost}  duplicates ${t.duplicates}`);
    const total = summarize(tallies);
    console.log(
      [
        "",
        "fault suite summary",
        ...lines,
        `  total: ${total.scenarios} scenarios, faults injected ${total.faults}, recoveries ${total.recoveries}, data lost ${total.lost} (must be 0), duplicates ${total.duplicates} (must be 0)`,
        "",
      ].join("\n"),
    );
  };
}
