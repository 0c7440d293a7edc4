import { writeFile } from "node:fs/promises";
import cliProgress from "cli-progress";
import type { Command } from "commander";
import { InvalidRequestError } from "../../core/errors.js";
import { getGoldenSetRecord, parseGoldenSetRef } from "../../indexer/evaluation/golden-store.js";
import { readReport, readRunFile } from "../../indexer/evaluation/run.js";
import { getVersion } from "../../indexer/lifecycle/versions.js";
import { enqueueEvaluate } from "../queues/lifecycle-queue.js";
import { actor, lifecycleConfigFrom, withLifecycle, type CliLifecycle } from "./lifecycle-session.js";
import { formatEvaluation } from "./output.js";

interface EvalOptions {
  golden: string;
  k?: number;
  wait?: boolean;
  trecOut?: string;
  json?: boolean;
}

/** `ragops eval <version> --golden <set>`: queue an evaluation (a running worker does it), and with --wait print its metrics and the gate's verdict. */
export function addEvalCommand(program: Command): void {
  program
    .command("eval")
    .description("Evaluate an index version on a golden set; a candidate is compared with live and gated (a pass makes it evaluated, so swap admits it). Needs a running worker.")
    .argument("<version>", "index version to evaluate")
    .requiredOption("-g, --golden <set>", "golden set: <name> (its latest version) or <name>@<version>")
    .option("-k, --k <n>", "chunks retrieved per question (default evaluation.defaultK, at most evaluation.maxTopK)", Number)
    .option("--wait", "follow the job, then print the metric table with 95 % CIs and the gate's verdict")
    .option("--trec-out <file>", "write the evaluation's TREC run file (implies --wait)")
    .option("--json", "print the report (or, without --wait, the queued job) as JSON")
    .addHelpText("after", "\nExamples:\n  ragops eval v2 --golden northwind --wait\n  ragops eval v2 --golden northwind@3 --k 100 --trec-out run.txt")
    .action(async (version: string, options: EvalOptions, command: Command) => {
      if (options.k !== undefined && !(Number.isInteger(options.k) && options.k >= 1)) throw new InvalidRequestError(`--k must be a positive integer; got ${options.k}`);
      await withLifecycle(lifecycleConfigFrom(command), async (deps) => {
        await getVersion(deps.store, version);
        const ref = parseGoldenSetRef(options.golden);
        const golden = await getGoldenSetRecord(deps.store, ref.name, ref.version);
        const jobId = await enqueueEvaluate(deps.lifecycleQueue, { version, goldenSet: { name: golden.name, version: golden.version }, ...(options.k !== undefined ? { k: options.k } : {}), actor: actor() });
        if (!options.wait && !options.trecOut) {
          console.log(options.json ? JSON.stringify({ jobId, version, goldenSet: { name: golden.name, version: golden.version } }) : `queued evaluation of ${version} on ${golden.name}@${golden.version} (job ${jobId}); follow it with --wait`);
          return;
        }
        const reportId = await followEvaluation(deps, jobId);
        const report = await readReport(deps.store, reportId);
        if (options.trecOut) await writeFile(options.trecOut, await readRunFile(deps.store, reportId));
        if (options.json) {
          console.log(JSON.stringify(report, null, 2));
          return;
        }
        const live = report.live ? await readReport(deps.store, report.live.reportId) : undefined;
        console.log(formatEvaluation(report, live));
        if (options.trecOut) console.error(`TREC run written to ${options.trecOut} (qrels: GET /v1/evaluations/${report.id}/qrels.txt)`);
      });
    });
}

/** Follows an evaluate job with a progress bar; returns its report id, or throws with the job's failure. */
async function followEvaluation(deps: CliLifecycle, jobId: string): Promise<string> {
  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: "evaluating [{bar}] {value}/{total} questions", hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  let started = false;
  for (;;) {
    const job = await deps.lifecycleQueue.getJob(jobId);
    if (!job) throw new InvalidRequestError(`evaluation job ${jobId} not found`);
    const state = await job.getState();
    const [done, total] = ((job.progress as { detail?: string } | undefined)?.detail ?? "").split(" ")[0]?.split("/").map(Number) ?? [];
    if (bar && total) {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done ?? 0);
    }
    if (state === "completed" || state === "failed") {
      bar?.stop();
      if (state === "failed") throw new Error(`the evaluation failed: ${job.failedReason}`);
      return (job.returnvalue as { reportId: string }).reportId;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
