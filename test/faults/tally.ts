import { appendFileSync } from "node:fs";
import { inject } from "vitest";

/** What one fault scenario did: faults injected, recoveries seen, and what the corpus looked like after. */
export interface FaultTally {
  scenario: string;
  faults: number;
  recoveries: number;
  /** Chunks a live manifest names that no index holds. */
  lost: number;
  /** Index ids held twice, or held though no live manifest names them. */
  duplicates: number;
}

/** Appends a scenario's counts to the run's tally file; the suite's teardown prints the summary. */
export function recordTally(tally: FaultTally): void {
  appendFileSync(inject("faultTallyFile"), `${JSON.stringify(tally)}\n`);
}
