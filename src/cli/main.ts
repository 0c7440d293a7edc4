#!/usr/bin/env node
import { Command, InvalidArgumentError, Option } from "commander";
import cliProgress from "cli-progress";
import Table from "cli-table3";
import { ConfigError, loadConfig } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import { collectFiles, submitFile, waitForJobs, type JobOutcome } from "../documents/ingest-files.js";
import { errorMessage, isRagopsError } from "../../core/errors.js";
import { startServer } from "../http/server.js";
import { createLogger } from "../../core/logger.js";
import { createIngestQueueEvents } from "../queues/ingest-queue.js";
import { connectRedis, createRedis } from "../queues/redis.js";
import { bootstrapVersions, createVersionCatalog } from "../../indexer/lifecycle/catalog.js";
import { openRuntime } from "../runtime.js";
import { createObjectStore } from "../stores/index.js";
import { createLocalDirSource } from "../sources/local-dir.js";
import { runRefresh, type RefreshSummary } from "../documents/refresh.js";
import { search } from "../search.js";
import { startIngestWorker } from "../worker/worker.js";
import { addIndexCommands } from "./index-commands.js";
import { formatDuration, formatSearchResults, tableStyle } from "./output.js";

interface GlobalOptions {
  config?: string;
  dataDir?: string;
  redisUrl?: string;
  logLevel?: string;
}

const positiveInt = (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError("must be a positive integer");
  return n;
};
const collect = (value: string, previous: string[] = []) => [...previous, value];

function configFrom(command: Command, overrides: Record<string, unknown> = {}): Config {
  const global = command.optsWithGlobals<GlobalOptions>();
  return loadConfig({
    file: global.config,
    overrides: {
      ...(global.dataDir ? { dataDir: global.dataDir } : {}),
      ...(global.redisUrl ? { redis: { url: global.redisUrl } } : {}),
      ...(global.logLevel ? { log: { level: global.logLevel } } : {}),
      ...overrides,
    },
  });
}

/** Runs `stop` once on SIGTERM or SIGINT; a second signal exits at once. */
function onShutdown(stop: (signal: string) => Promise<void>): void {
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopping) process.exit(130);
      stopping = true;
      void stop(signal).then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(`ragops: shutdown failed: ${errorMessage(error)}`);
          process.exit(1);
        },
      );
    });
  }
}

export function buildProgram(): Command {
  const program = new Command()
    .name("ragops")
    .description("RAG ingestion and index operations: upload documents, chunk and embed them, search the index.")
    .option("-c, --config <file>", "JSON config file (also $RAGOPS_CONFIG)")
    .option("--data-dir <dir>", "data directory for the object store and LanceDB (default .ragops-data, or $RAGOPS_DATA_DIR)")
    .option("--redis-url <url>", "Redis URL (default redis://127.0.0.1:6379, or $REDIS_URL)")
    .addOption(new Option("--log-level <level>", "log level (default info, or $RAGOPS_LOG_LEVEL)").choices(["fatal", "error", "warn", "info", "debug", "trace", "silent"]))
    .showHelpAfterError()
    .addHelpText(
      "after",
      "\nEnvironment: RAGOPS_DATA_DIR, REDIS_URL, PORT, RAGOPS_MAX_UPLOAD_BYTES, RAGOPS_CHUNK_SIZE_TOKENS, ... (see README).\nExamples:\n  ragops serve --port 8080\n  ragops worker --concurrency 4\n  ragops ingest ./docs --tag handbook\n  ragops refresh --source ./docs --dry-run\n  ragops index create --chunk-size 768 --wait && ragops index swap v2 --expected v1 --force\n  ragops search \"how do I reset the dock\" -k 5",
    );

  program
    .command("serve")
    .description("Run the HTTP control plane (upload, status, search). Does not process jobs: run `ragops worker` too.")
    .option("-p, --port <port>", "port to listen on (default 8080, or $PORT)", positiveInt)
    .option("--host <host>", "interface to listen on (default 127.0.0.1, or $RAGOPS_HOST)")
    .action(async (options: { port?: number; host?: string }, command: Command) => {
      const config = configFrom(command, { http: { ...(options.port ? { port: options.port } : {}), ...(options.host ? { host: options.host } : {}) } });
      const runtime = await openRuntime(config);
      const server = await startServer(runtime);
      console.error(`ragops: control plane on ${server.url} (index ${config.index.version}, data ${config.dataDir})`);
      onShutdown(async (signal) => {
        runtime.logger.info({ signal }, "shutting down the control plane");
        await server.close();
        await runtime.close();
      });
    });

  program
    .command("worker")
    .description("Run an ingest worker: parse, chunk, embed and index queued documents.")
    .option("--concurrency <n>", "jobs run at once (default 2, or $RAGOPS_QUEUE_CONCURRENCY)", positiveInt)
    .action(async (options: { concurrency?: number }, command: Command) => {
      const config = configFrom(command, options.concurrency ? { queue: { concurrency: options.concurrency } } : {});
      const runtime = await openRuntime(config);
      const worker = await startIngestWorker(runtime);
      console.error(`ragops: worker running (concurrency ${config.queue.concurrency}, index ${config.index.version})`);
      onShutdown(async (signal) => {
        runtime.logger.info({ signal }, "shutting down the worker; finishing running jobs");
        await worker.close();
        await runtime.close();
      });
    });

  program
    .command("ingest")
    .description("Upload files (or every .md/.txt under directories), wait until they are indexed, and print what happened.")
    .argument("<paths...>", "files or directories")
    .option("-t, --tag <tag>", "tag every document (repeatable)", collect, [])
    .option("--no-worker", "only enqueue and wait for running `ragops worker` processes")
    .action(async (paths: string[], options: { tag: string[]; worker: boolean }, command: Command) => {
      const config = configFrom(command, { log: { level: command.optsWithGlobals<GlobalOptions>().logLevel ?? "warn" } });
      const started = Date.now();
      const files = await collectFiles(paths);
      if (files.length === 0) throw new Error(`no .md or .txt files under ${paths.join(", ")}`);
      const runtime = await openRuntime(config, { logger: createLogger(config, "ragops-ingest") });
      const worker = options.worker ? await startIngestWorker(runtime) : undefined;
      const events = await createIngestQueueEvents(config);
      try {
        const submitted = [];
        const rejected: Array<{ path: string; reason: string }> = [];
        for (const file of files) {
          try {
            submitted.push({ file, ...(await submitFile(runtime, file, { tags: options.tag })) });
          } catch (error) {
            rejected.push({ path: file.path, reason: errorMessage(error) });
          }
        }
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
        const table = new Table({ head: ["document", "version", "state", "chunks / reason"], style: tableStyle() });
        let failures = rejected.length;
        for (const s of submitted) {
          const outcome = outcomes.get(s.jobId);
          const result = outcome?.result as { chunks?: number; outcome?: string } | undefined;
          if (outcome?.state !== "completed") failures += 1;
          table.push([s.documentId, String(s.version), outcome?.state ?? "?", outcome?.state === "completed" ? `${result?.chunks ?? 0} (${result?.outcome})` : (outcome?.failedReason ?? "")]);
        }
        for (const r of rejected) table.push([r.path, "-", "rejected", r.reason]);
        console.log(table.toString());
        console.log(`${submitted.length - (failures - rejected.length)} indexed, ${failures} failed, in ${formatDuration(Date.now() - started)}`);
        process.exitCode = failures > 0 ? 1 : 0;
      } finally {
        await events.close();
        await worker?.close();
        await runtime.close();
      }
    });

  program
    .command("refresh")
    .description("Bring the index in line with a folder: ingest new and changed files, delete vanished ones, skip unchanged ones unread.")
    .requiredOption("-s, --source <dir>", "folder to scan (every .pdf, .docx, .html, .md and .txt under it)")
    .option("-t, --tag <tag>", "tag every new or changed document (repeatable)", collect, [])
    .option("--dry-run", "print what would change, change nothing")
    .option("--no-worker", "only enqueue and wait for running `ragops worker` processes")
    .option("--json", "print the summary as JSON")
    .action(async (options: { source: string; tag: string[]; dryRun?: boolean; worker: boolean; json?: boolean }, command: Command) => {
      const config = configFrom(command, { log: { level: command.optsWithGlobals<GlobalOptions>().logLevel ?? "warn" } });
      const source = await createLocalDirSource(options.source);
      const runtime = await openRuntime(config, { logger: createLogger(config, "ragops-refresh") });
      const worker = options.worker && !options.dryRun ? await startIngestWorker(runtime) : undefined;
      const events = await createIngestQueueEvents(config);
      const bar = new cliProgress.SingleBar({ format: "refresh [{bar}] {value}/{total} documents", hideCursor: true }, cliProgress.Presets.shades_classic);
      let barStarted = false;
      try {
        const summary = await runRefresh(runtime, source, {
          dryRun: options.dryRun,
          tags: options.tag,
          events,
          onProgress: (done, total) => {
            if (!process.stderr.isTTY || total === 0) return;
            if (!barStarted) bar.start(total, 0);
            barStarted = true;
            bar.update(done);
          },
        });
        if (barStarted) bar.stop();
        if (options.json) console.log(JSON.stringify(summary, null, 2));
        else printRefreshSummary(summary);
        process.exitCode = summary.failed > 0 ? 1 : 0;
      } finally {
        await events.close();
        await worker?.close();
        await runtime.close();
      }
    });

  program
    .command("search")
    .description("Search the index and print the best chunks.")
    .argument("<question>", "what to look for")
    .option("-k, --top-k <k>", "number of results (default 5)", positiveInt)
    .option("-t, --tag <tag>", "only chunks with this tag (repeatable: any of them)", collect, [])
    .option("-d, --document <id>", "only chunks of this document (repeatable)", collect, [])
    .option("-i, --index <version>", "search this index version instead of the live one")
    .option("--json", "print JSON instead of a table")
    .action(async (question: string, options: { topK?: number; tag: string[]; document: string[]; index?: string; json?: boolean }, command: Command) => {
      const config = configFrom(command);
      const store = createObjectStore(config);
      await bootstrapVersions(config, store);
      const catalog = createVersionCatalog(config, store);
      // Hits are shown from the chunk store, in Redis.
      const redis = createRedis(config.redis.url, "client");
      try {
        await connectRedis(redis, config.redis.url);
        const filter = options.tag.length || options.document.length ? { ...(options.tag.length ? { tags: options.tag } : {}), ...(options.document.length ? { documentId: options.document } : {}) } : undefined;
        const response = await search({ config, catalog, redis }, { query: question, k: options.topK, filter, ...(options.index ? { index: options.index } : {}) });
        console.log(options.json ? JSON.stringify(response, null, 2) : `${formatSearchResults(response.results)}\n(index ${response.index})`);
      } finally {
        redis.disconnect();
        await catalog.close();
      }
    });

  addIndexCommands(program, configFrom);
  return program;
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
  if (!summary.dryRun) table.push(["failed", summary.failed], ["chunks embedded", summary.chunksEmbedded], ["index writes", summary.indexWrites], ["metadata writes", summary.metadataWrites], ["index removals", summary.indexRemovals]);
  table.push(["time", formatDuration(summary.seconds * 1000)]);
  console.log(`source ${summary.source}`);
  console.log(table.toString());
  const list = (label: string, ids: string[]) => ids.length && console.log(`${label}: ${ids.slice(0, 20).join(", ")}${ids.length > 20 ? `, … (${ids.length})` : ""}`);
  list("changed", summary.details.changed);
  list("added", summary.details.added);
  list("deleted", summary.details.deleted);
  for (const failure of summary.details.failures) console.log(`failed ${failure.documentId}: ${failure.reason}`);
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(`ragops: ${error.message}`);
      process.exit(2);
    }
    console.error(`ragops: ${isRagopsError(error) ? error.message : errorMessage(error)}`);
    process.exit(1);
  }
}

await main(process.argv);
