import cliProgress from "cli-progress";
import Table from "cli-table3";
import type { Command } from "commander";
import { createLogger } from "../../core/logger.js";
import { announceInherited, waitForInheritedJobs } from "../documents/ingest-files.js";
import { runRefresh, type RefreshSummary } from "../documents/refresh.js";
import { createIngestQueueEvents } from "../queues/ingest-queue.js";
import { openRuntime } from "../runtime.js";
import { openSource } from "../sources/index.js";
import { startWorkers } from "../worker/worker.js";
import { collect, quietConfigFrom } from "./common.js";
import { formatDuration, tableStyle } from "./output.js";

interface RefreshOptions {
  source: string;
  tag: string[];
  dryRun?: boolean;
  worker: boolean;
  json?: boolean;
}

/** `ragops refresh`: bring the index in line with a folder or a GCS prefix, and print what changed. */
export function addRefreshCommand(program: Command): void {
  program
    .command("refresh")
    .description("Bring the index in line with a folder or a GCS prefix: ingest new and changed files, delete vanished ones, skip unchanged ones unread.")
    .requiredOption("-s, --source <dir|gs://bucket/prefix>", "folder or GCS prefix to scan (every .pdf, .docx, .html, .md and .txt under it; GCS objects are compared by generation)")
    .option("-t, --tag <tag>", "tag every new or changed document (repeatable)", collect, [])
    .option("--dry-run", "print what would change, change nothing")
    .option("--no-worker", "only enqueue and wait for running `ragops worker` processes")
    .option("--json", "print the summary as JSON")
    .action(async (options: RefreshOptions, command: Command) => {
      const config = quietConfigFrom(command);
      const source = await openSource(options.source, config);
      const runtime = await openRuntime(config, { logger: createLogger(config, "ragops-refresh") });
      const workers = options.worker && !options.dryRun ? await startWorkers(runtime) : undefined;
      const events = await createIngestQueueEvents(config);
      const bar = progressBar();
      try {
        const summary = await runRefresh(runtime, source, { dryRun: options.dryRun, tags: options.tag, events, onProgress: bar.update });
        bar.stop();
        if (workers) await waitForInheritedJobs(events, (id) => runtime.queue.getJob(id), workers.inherited, announceInherited);
        if (options.json) console.log(JSON.stringify(summary, null, 2));
        else printRefreshSummary(summary);
        process.exitCode = summary.failed > 0 ? 1 : 0;
      } finally {
        await events.close();
        await workers?.close();
        await runtime.close();
      }
    });
}

/** A progress bar on a terminal, started at the first report that has a total; nothing when piped. */
function progressBar(): { update(done: number, total: number): void; stop(): void } {
  const bar = new cliProgress.SingleBar({ format: "refresh [{bar}] {value}/{total} documents", hideCursor: true }, cliProgress.Presets.shades_classic);
  let started = false;
  return {
    update: (done, total) => {
      if (!process.stderr.isTTY || total === 0) return;
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done);
    },
    stop: () => {
      if (started) bar.stop();
    },
  };
}

function printRefreshSummary(summary: RefreshSummary): void {
  const table = new Table({ head: [summary.dryRun ? "would (dry run)" : "refresh", "count"], style: tableStyle() });
  table.push(
    ["scanned", summary.scanned],
    ["unchanged", summary.unchanged],
    ["changed", summary.changed],
    ["added", summary.added],
    ["deleted", summary.deleted],
  );
  table.push(["quarantined", summary.quarantined]);
  if (!summary.dryRun) table.push(["failed", summary.failed], ["chunks embedded", summary.chunksEmbedded], ["index writes", summary.indexWrites], ["metadata writes", summary.metadataWrites], ["index removals", summary.indexRemovals]);
  table.push(["time", formatDuration(summary.seconds * 1000)]);
  console.log(`source ${summary.source}`);
  console.log(table.toString());
  const list = (label: string, ids: string[]) => ids.length && console.log(`${label}: ${ids.slice(0, 20).join(", ")}${ids.length > 20 ? `, … (${ids.length})` : ""}`);
  list("changed", summary.details.changed);
  list("added", summary.details.added);
  list("deleted", summary.details.deleted);
  list("quarantined (unchanged since they failed; `ragops failures` lists them, `ragops failures retry <id>` tries again)", summary.details.quarantined ?? []);
  for (const failure of summary.details.failures) console.log(`failed ${failure.documentId}: ${failure.reason}`);
}
