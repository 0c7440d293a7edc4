import { isAbsolute, relative } from "node:path";
import type { QueueEvents } from "bullmq";
import type { Command } from "commander";
import { InvalidRequestError, errorMessage } from "../../core/errors.js";
import { mapBounded } from "../../core/pool.js";
import { createLogger } from "../../core/logger.js";
import { SUPPORTED_DESCRIPTION, SUPPORTED_EXTENSIONS } from "../../ingest/parsers/detect.js";
import { announceInherited, collectFiles, submitFile, waitForInheritedJobs, watchJobs, type FoundFile, type JobOutcome } from "../documents/ingest-files.js";
import { createIngestQueueEvents } from "../queues/ingest-queue.js";
import { openRuntime, type Runtime } from "../runtime.js";
import { startWorkers } from "../worker/worker.js";
import { collect, quietConfigFrom } from "./common.js";
import { createProgressDisplay, type ProgressDisplay } from "./ingest-progress.js";
import { chunksOf, formatIngestReport, formatInterruption, summarizeIngest, type FileProblem, type SubmittedDocument } from "./ingest-report.js";

/** Files uploaded at once. */
const SUBMIT_CONCURRENCY = 8;

interface IngestOptions {
  tag: string[];
  worker: boolean;
  all?: boolean;
}

const HELP = `
Progress goes to stderr: a bar on a terminal (documents, chunks, rates, ETA); otherwise
(CI, pipes) a plain line at most every 5 s and one at the end.
The report goes to stdout: a summary first (documents indexed / unchanged / failed / skipped;
chunks embedded, cache hits, near-duplicates; time and rates), then the failures only, or
every document with --all. Skipped: a file under a directory that no parser reads, or a
document a newer upload replaced meanwhile.
Exit status: 0 when nothing failed, 1 when a document failed, 130 on Ctrl-C (143 on SIGTERM).
Ctrl-C stops waiting, not the jobs: queued documents stay queued, \`ragops worker\` processes
index them, and the report lists them as pending with their job ids (--all).
Examples:
  ragops ingest ./docs --tag handbook
  ragops ingest ./docs --no-worker           # while \`ragops worker\` processes run
  ragops ingest ./docs --all > ingest.txt    # every document with its state`;

/** `ragops ingest`: upload files, wait until they are indexed, print what happened. */
export function addIngestCommand(program: Command): void {
  program
    .command("ingest")
    .description(`Upload files, or every ${SUPPORTED_EXTENSIONS.join(" ")} file under directories; wait until they are indexed, and print what happened.`)
    .argument("<paths...>", "files or directories")
    .option("-t, --tag <tag>", "tag every document (repeatable)", collect, [])
    .option("--no-worker", "only enqueue and wait for running `ragops worker` processes")
    .option("--all", "list every document with its state, not only the failures")
    .addHelpText("after", HELP)
    .action(async (paths: string[], options: IngestOptions, command: Command) => {
      const config = quietConfigFrom(command);
      const started = Date.now();
      const { files, skipped } = await collectFiles(paths);
      if (files.length === 0) throw new InvalidRequestError(`no ${SUPPORTED_DESCRIPTION} files under ${paths.join(", ")}`);
      const runtime = await openRuntime(config, { logger: createLogger(config, "ragops-ingest") });
      const workers = options.worker ? await startWorkers(runtime) : undefined;
      const events = await createIngestQueueEvents(config);
      const interrupt = listenForInterrupt();
      // Its parse processes got the terminal's SIGINT too: a job it took now would fail and use up an attempt.
      interrupt.signal.addEventListener("abort", () => void workers?.worker.pause(true).catch(() => undefined), { once: true });
      try {
        const display = createProgressDisplay({ total: files.length, startedAt: Date.now(), tty: Boolean(process.stderr.isTTY) });
        const run = await submitAndWait(runtime, events, files, options.tag, interrupt.signal, display);
        if (workers && !interrupt.signal.aborted) await waitForInheritedJobs(events, (id) => runtime.queue.getJob(id), workers.inherited, announceInherited);
        const summary = summarizeIngest({ ...run, skipped: skipped.map(shownPath), wallMs: Date.now() - started });
        console.log(formatIngestReport(summary, { all: options.all }));
        if (interrupt.signal.aborted) {
          const notSubmitted = files.length - run.submitted.length - run.rejected.length;
          console.error(formatInterruption(summary, { submitted: run.submitted, notSubmitted, ownWorker: options.worker, all: options.all }));
          process.exitCode = interrupt.exitCode();
        } else process.exitCode = summary.documents.failed > 0 ? 1 : 0;
      } finally {
        interrupt.dispose();
        await events.close();
        await workers?.close();
        await runtime.close();
      }
    });
}

/** Paths relative to where the command runs when they are below it, absolute otherwise. */
function shownPath<T extends { path: string }>(item: T): T {
  const below = relative(process.cwd(), item.path);
  return { ...item, path: below && !below.startsWith("..") && !isAbsolute(below) ? below : item.path };
}

/**
 * Submits each file and follows its job from the moment it is queued, so the
 * progress moves during a long submission too. A file the service refuses is
 * reported, not fatal. An interrupt stops submitting and waiting, not the jobs.
 */
async function submitAndWait(
  runtime: Runtime,
  events: QueueEvents,
  files: readonly FoundFile[],
  tags: string[],
  interrupted: AbortSignal,
  display: ProgressDisplay,
): Promise<{ submitted: SubmittedDocument[]; rejected: FileProblem[]; outcomes: Map<string, JobOutcome> }> {
  const counts = { done: 0, chunks: 0 };
  const watch = watchJobs(
    events,
    async (id) => runtime.queue.getJob(id),
    (_jobId, _progress, outcome) => {
      if (outcome) {
        counts.done += 1;
        counts.chunks += chunksOf(outcome);
      }
      display.update(counts);
    },
  );
  const stop = () => watch.stop();
  interrupted.addEventListener("abort", stop, { once: true });
  const submitted: SubmittedDocument[] = [];
  const rejected: FileProblem[] = [];
  try {
    // A few uploads at once: each is a store write, a record and a queued job, mostly waiting on I/O.
    const outcomes = await mapBounded(
      files,
      SUBMIT_CONCURRENCY,
      async (file): Promise<{ ok: SubmittedDocument } | { problem: FileProblem }> => {
        try {
          const { documentId, version, jobId } = await submitFile(runtime, file, { tags });
          watch.add(jobId);
          return { ok: { documentId, version, jobId } };
        } catch (error) {
          counts.done += 1;
          display.update(counts);
          return { problem: shownPath({ path: file.path, reason: errorMessage(error) }) };
        }
      },
      { shouldStop: () => interrupted.aborted },
    );
    for (const outcome of outcomes) {
      if (outcome && "ok" in outcome) submitted.push(outcome.ok);
      else if (outcome) rejected.push(outcome.problem);
    }
    if (!interrupted.aborted) display.queued(submitted.length);
    watch.seal();
    return { submitted, rejected, outcomes: await watch.ended };
  } finally {
    // Also when submitting throws (Redis gone): a bar left running keeps the terminal's cursor hidden.
    display.finish(counts);
    interrupted.removeEventListener("abort", stop);
  }
}

/**
 * SIGINT or SIGTERM while submitting or waiting: stop both and report, the
 * jobs stay queued. A second signal exits at once, as the default would have.
 */
function listenForInterrupt(): { signal: AbortSignal; exitCode(): number; dispose(): void } {
  const controller = new AbortController();
  let code = 130;
  const handlers = (["SIGINT", "SIGTERM"] as const).map((name) => {
    const handler = () => {
      if (controller.signal.aborted) process.exit(code);
      code = name === "SIGINT" ? 130 : 143;
      controller.abort();
    };
    process.on(name, handler);
    return () => process.off(name, handler);
  });
  return { signal: controller.signal, exitCode: () => code, dispose: () => handlers.forEach((off) => off()) };
}
