import type { Queue } from "bullmq";
import Table from "cli-table3";
import type { Command } from "commander";
import { InvalidRequestError } from "../../core/errors.js";
import { FAILURE_KINDS, listFailures, type FailureEntry, type FailureKind } from "../failures/ledger.js";
import { retryFailures } from "../failures/retry.js";
import { createLifecycleQueue } from "../queues/lifecycle-queue.js";
import { openRuntime } from "../runtime.js";
import { quietConfigFrom } from "./common.js";
import { tableStyle } from "./output.js";

const HELP = `
Each entry: what failed (ingest or delete of a document; build, evaluate or retire of an index
version), the stage it reached, the reason, its class (transient: retried with backoff before it
landed here; deterministic: the document's own bytes, quarantined so a refresh skips them until
they change), attempts, and when it was first and last seen. An entry goes once its subject succeeds.
Examples:
  ragops failures
  ragops failures --kind ingest --json
  ragops failures retry ingest:handbook__broken.pdf
  ragops failures retry --all`;

/** `ragops failures` and `ragops failures retry`: the failure ledger (src/failures/ledger.ts). */
export function addFailuresCommand(program: Command): void {
  const failures = program
    .command("failures")
    .description("The failure ledger: every failed document and job with its stage, reason, attempts, first and last seen.")
    .option("--kind <kind>", `only this kind (${FAILURE_KINDS.join(", ")})`)
    .option("--json", "print the entries as JSON")
    .addHelpText("after", HELP)
    .action(async (options: { kind?: string; json?: boolean }, command: Command) => {
      const kind = options.kind === undefined ? undefined : parseKind(options.kind);
      const runtime = await openRuntime(quietConfigFrom(command));
      try {
        const entries = await listFailures(runtime.store, kind ? { kind } : {});
        if (options.json) console.log(JSON.stringify(entries, null, 2));
        else printFailures(entries);
      } finally {
        await runtime.close();
      }
    });
  failures
    .command("retry")
    .description("Queue again what failed, and only that: failed ingests (from the bytes that failed, out of quarantine), deletes and retires. Running `ragops worker` processes take the jobs.")
    .argument("[ids...]", "entries to retry, as `ragops failures` names them (<kind>:<subject>)")
    .option("--all", "every entry in the ledger")
    .option("--json", "print what was queued as JSON")
    .action(async (ids: string[], options: { all?: boolean; json?: boolean }, command: Command) => {
      if (!options.all && ids.length === 0) throw new InvalidRequestError("name the failures to retry (ids from `ragops failures`), or --all");
      if (options.all && ids.length > 0) throw new InvalidRequestError("give ids or --all, not both");
      const config = quietConfigFrom(command);
      const runtime = await openRuntime(config);
      let lifecycle: Queue | undefined;
      try {
        const outcomes = await retryFailures({ config, store: runtime.store, queue: runtime.queue, lifecycleQueue: () => (lifecycle ??= createLifecycleQueue(config)) }, options.all ? { all: true } : { ids });
        if (options.json) console.log(JSON.stringify(outcomes, null, 2));
        else {
          const table = new Table({ head: ["failure", "queued job", "not retried because"], style: tableStyle() });
          for (const o of outcomes) table.push([o.id, o.jobId ?? "", o.skipped ?? ""]);
          console.log(outcomes.length ? table.toString() : "the ledger is empty: nothing to retry");
        }
        process.exitCode = outcomes.some((o) => o.skipped) ? 1 : 0;
      } finally {
        await lifecycle?.close();
        await runtime.close();
      }
    });
}

function parseKind(kind: string): FailureKind {
  if (!FAILURE_KINDS.includes(kind as FailureKind)) throw new InvalidRequestError(`--kind must be one of ${FAILURE_KINDS.join(", ")}`);
  return kind as FailureKind;
}

function printFailures(entries: readonly FailureEntry[]): void {
  if (entries.length === 0) {
    console.log("no failures");
    return;
  }
  const table = new Table({ head: ["id", "stage", "class", "attempts", "first seen", "last seen", "reason"], style: tableStyle() });
  for (const e of entries) {
    table.push([e.id, e.stage, e.quarantined ? "quarantined" : e.class, e.attempts, e.firstSeen.slice(0, 19), e.lastSeen.slice(0, 19), e.reason + (e.retryJobId ? ` (retried: ${e.retryJobId})` : "")]);
  }
  console.log(table.toString());
  console.log(`${entries.length} failures; retry: ragops failures retry <id> | --all`);
}
