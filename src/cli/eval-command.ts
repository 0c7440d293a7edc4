import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { resolve } from "node:path";
import type { Command } from "commander";
import { InvalidRequestError } from "../../core/errors.js";
import { getGoldenSetRecord, parseGoldenSetRef } from "../../indexer/evaluation/golden-store.js";
import { evaluationIdSchema, readReport, readRunFile, type EvaluationReport } from "../../indexer/evaluation/run.js";
import { getVersion } from "../../indexer/lifecycle/versions.js";
import { enqueueEvaluate } from "../queues/lifecycle-queue.js";
import { renderEvaluationPage } from "../reports/evaluation-page.js";
import { actor, followLifecycleJob, lifecycleConfigFrom, withLifecycle, type CliLifecycle } from "./lifecycle-session.js";
import { formatEvaluation } from "./output.js";

interface EvalOptions {
  golden?: string;
  k?: number;
  wait?: boolean;
  trecOut?: string;
  json?: boolean;
}

interface ReportOptions {
  out?: string;
  open?: boolean;
}

/** `ragops eval <version> --golden <set>`: queue an evaluation (a running worker does it), and with --wait print its metrics and the gate's verdict. */
export function addEvalCommand(program: Command): void {
  const evalCommand = program
    .command("eval")
    .description("Evaluate an index version on a golden set; a candidate is compared with live and gated (a pass makes it evaluated, so swap admits it). Needs a running worker.")
    .argument("<version>", "index version to evaluate")
    // Checked in the action, not as a required option: commander checks a parent's required options before dispatching to `eval report`.
    .option("-g, --golden <set>", "golden set: <name> (its latest version) or <name>@<version> (required)")
    .option("-k, --k <n>", "chunks retrieved per question (default evaluation.defaultK, at most evaluation.maxTopK)", Number)
    .option("--wait", "follow the job, then print the metric table with 95 % CIs and the gate's verdict")
    .option("--trec-out <file>", "write the evaluation's TREC run file (implies --wait)")
    .option("--json", "print the report (or, without --wait, the queued job) as JSON")
    .addHelpText("after", "\nExamples:\n  ragops eval v2 --golden northwind --wait\n  ragops eval v2 --golden northwind@3 --k 100 --trec-out run.txt")
    .action(async (version: string, options: EvalOptions, command: Command) => {
      if (!options.golden) throw new InvalidRequestError(`--golden <set> is required: the golden set to evaluate ${version} on, e.g. ragops eval ${version} --golden northwind --wait`);
      const goldenRef = options.golden;
      if (options.k !== undefined && !(Number.isInteger(options.k) && options.k >= 1)) throw new InvalidRequestError(`--k must be a positive integer; got ${options.k}`);
      await withLifecycle(lifecycleConfigFrom(command), async (deps) => {
        await getVersion(deps.store, version);
        const ref = parseGoldenSetRef(goldenRef);
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

  evalCommand
    .command("report")
    .description("Write an evaluation report as a self-contained HTML page (gate verdict, green vs live with 95 % CIs, questions by largest regression); works offline.")
    .argument("<id>", "evaluation (report) id")
    .option("-o, --out <file>", "where to write the page (default evaluation-<id>.html)")
    .option("--open", "open the page in the desktop's browser (xdg-open or open)")
    .addHelpText("after", "\nExamples:\n  ragops eval report v2.northwind.v1.1a2b3c4d --open\n  ragops eval report v2.northwind.v1.1a2b3c4d --out report.html")
    .action(async (id: string, options: ReportOptions, command: Command) => {
      const parsed = evaluationIdSchema.safeParse(id);
      if (!parsed.success) throw new InvalidRequestError(`invalid evaluation id ${JSON.stringify(id)}: ${parsed.error.issues[0]?.message ?? "bad id"}`);
      const out = resolve(options.out ?? `evaluation-${parsed.data}.html`);
      await withLifecycle(lifecycleConfigFrom(command), async (deps) => {
        const report = await readReport(deps.store, parsed.data);
        const live = report.live ? await readReport(deps.store, report.live.reportId).catch((): EvaluationReport | undefined => undefined) : undefined;
        await writeFile(out, renderEvaluationPage(report, live));
      });
      console.log(out);
      if (options.open) console.error(await openInBrowser(out));
    });
}

/** Hands the file to the desktop's opener; says what happened, and never fails the command (a server has no browser). */
async function openInBrowser(file: string): Promise<string> {
  const opener = process.platform === "darwin" ? "open" : "xdg-open";
  return new Promise((done) => {
    const child = spawn(opener, [file], { stdio: "ignore", detached: true });
    child.once("error", () => done(`could not open it: no ${opener} on this machine; open ${file} in a browser`));
    child.once("spawn", () => {
      child.unref();
      done(`opened with ${opener}`);
    });
  });
}

/** Follows an evaluate job with a progress bar; returns its report id, or throws with the job's failure. */
async function followEvaluation(deps: CliLifecycle, jobId: string): Promise<string> {
  return ((await followLifecycleJob(deps, jobId, { name: "evaluation", unit: "questions" })) as { reportId: string }).reportId;
}
