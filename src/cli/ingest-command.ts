import type { QueueEvents } from "bullmq";
import cliProgress from "cli-progress";
import Table from "cli-table3";
import type { Command } from "commander";
import { errorMessage } from "../../core/errors.js";
import { createLogger } from "../../core/logger.js";
import { collectFiles, submitFile, waitForJobs, type FoundFile, type JobOutcome } from "../documents/ingest-files.js";
import type { SubmitResult } from "../documents/service.js";
import { createIngestQueueEvents } from "../queues/ingest-queue.js";
import { openRuntime, type Runtime } from "../runtime.js";
import { startWorkers } from "../worker/worker.js";
import { collect, quietConfigFrom } from "./common.js";
import { formatDuration, tableStyle } from "./output.js";

/** `ragops ingest`: upload files, wait until they are indexed, print what happened. */
export function addIngestCommand(program: Command): void {
  program
    .command("ingest")
    .description("Upload files (or every .md/.txt under directories), wait until they are indexed, and print what happened.")
    .argument("<paths...>", "files or directories")
    .option("-t, --tag <tag>", "tag every document (repeatable)", collect, [])
    .option("--no-worker", "only enqueue and wait for running `ragops worker` processes")
    .action(async (paths: string[], options: { tag: string[]; worker: boolean }, command: Command) => {
      const config = quietConfigFrom(command);
      const started = Date.now();
      const files = await collectFiles(paths);
      if (files.length === 0) throw new Error(`no .md or .txt files under ${paths.join(", ")}`);
      const runtime = await openRuntime(config, { logger: createLogger(config, "ragops-ingest") });
      const workers = options.worker ? await startWorkers(runtime) : undefined;
      const events = await createIngestQueueEvents(config);
      try {
        const { submitted, rejected } = await submitAll(runtime, files, options.tag);
        const outcomes = await waitWithProgressBar(runtime, events, submitted);
        const report = ingestReport(submitted, rejected, outcomes);
        const table = new Table({ head: ["document", "version", "state", "chunks / reason"], style: tableStyle() });
        table.push(...report.rows);
        console.log(table.toString());
        console.log(`${report.indexed} indexed, ${report.failed} failed, in ${formatDuration(Date.now() - started)}`);
        process.exitCode = report.failed > 0 ? 1 : 0;
      } finally {
        await events.close();
        await workers?.close();
        await runtime.close();
      }
    });
}

type Submitted = SubmitResult & { file: FoundFile };
interface Rejected {
  path: string;
  reason: string;
}

/** Submits each file; a file the service refuses is reported, not fatal. */
async function submitAll(runtime: Runtime, files: readonly FoundFile[], tags: string[]): Promise<{ submitted: Submitted[]; rejected: Rejected[] }> {
  const submitted: Submitted[] = [];
  const rejected: Rejected[] = [];
  for (const file of files) {
    try {
      submitted.push({ file, ...(await submitFile(runtime, file, { tags })) });
    } catch (error) {
      rejected.push({ path: file.path, reason: errorMessage(error) });
    }
  }
  return { submitted, rejected };
}

async function waitWithProgressBar(runtime: Runtime, events: QueueEvents, submitted: readonly Submitted[]): Promise<Map<string, JobOutcome>> {
  const bar = new cliProgress.SingleBar({ format: "indexing [{bar}] {value}/{total} documents | {last}", hideCursor: true, clearOnComplete: false }, cliProgress.Presets.shades_classic);
  if (process.stderr.isTTY) bar.start(submitted.length, 0, { last: "" });
  let done = 0;
  const outcomes = await waitForJobs(
    events,
    async (id) => runtime.queue.getJob(id),
    submitted.map((s) => s.jobId),
    (_jobId, _progress, outcome?: JobOutcome) => {
      if (outcome) bar.update(++done, { last: outcome.state });
    },
  );
  if (process.stderr.isTTY) bar.stop();
  return outcomes;
}

/**
 * One row per document (its version, state, and chunk count or failure
 * reason), then one per rejected file; a document whose job did not complete
 * counts as failed, as does every rejected file.
 */
export function ingestReport(
  submitted: ReadonlyArray<Pick<Submitted, "documentId" | "version" | "jobId">>,
  rejected: readonly Rejected[],
  outcomes: ReadonlyMap<string, JobOutcome>,
): { rows: string[][]; indexed: number; failed: number } {
  const rows: string[][] = [];
  let indexed = 0;
  for (const s of submitted) {
    const outcome = outcomes.get(s.jobId);
    const result = outcome?.result as { chunks?: number; outcome?: string } | undefined;
    if (outcome?.state === "completed") indexed += 1;
    rows.push([s.documentId, String(s.version), outcome?.state ?? "?", outcome?.state === "completed" ? `${result?.chunks ?? 0} (${result?.outcome})` : (outcome?.failedReason ?? "")]);
  }
  for (const r of rejected) rows.push([r.path, "-", "rejected", r.reason]);
  return { rows, indexed, failed: submitted.length - indexed + rejected.length };
}
