import Table from "cli-table3";
import type { Command } from "commander";
import { describeFinding, FINDING_KINDS, repairOf, type Finding, type FindingKind } from "../../indexer/reconcile/findings.js";
import type { ReconcileReport } from "../../indexer/reconcile/reconcile.js";
import { runReconcile } from "../reconcile.js";
import { openRuntime } from "../runtime.js";
import { quietConfigFrom } from "./common.js";
import { formatDuration, tableStyle } from "./output.js";

interface ReconcileCommandOptions {
  repair?: boolean;
  dryRun?: boolean;
  version?: string;
  json?: boolean;
}

const KIND_MEANING: Record<FindingKind, string> = {
  missing: "indexed chunks a version's index lacks",
  orphan: "datapoints no manifest references",
  duplicate: "ids in several rows, near-duplicates indexed beside their stand-in",
  "stale-restricts": "restricts that differ from the manifests",
  registry: "registry or chunk store entries that differ from the manifests",
  stuck: "documents processing or deleting with no live job",
};

/** `ragops reconcile`: manifests against the registry, the embedding cache and the indexes; exit 1 on drift, for CI and cron. */
export function addReconcileCommand(program: Command): void {
  program
    .command("reconcile")
    .description(
      "Compare the manifests with the chunk registry, the embedding cache and every index version following the corpus: missing, orphan and duplicate datapoints, stale restricts, registry drift, documents stuck with no job. Exit status 1 when something differs (with --repair: when something still differs afterwards).",
    )
    .option("--repair", "fix what is found, under the corpus lease sync takes (so never racing an ingest), then check again")
    .option("--dry-run", "print the repair plan (each finding with what --repair would do); change nothing")
    .option("--version <version>", "only this index version (its profile's registry is checked too)")
    .option("--json", "print the whole report as JSON")
    .action(async (options: ReconcileCommandOptions, command: Command) => {
      const runtime = await openRuntime(quietConfigFrom(command));
      try {
        const repair = options.repair === true && options.dryRun !== true;
        const report = await runReconcile(runtime, { ...(options.version ? { version: options.version } : {}), repair });
        console.log(options.json ? JSON.stringify(report, null, 2) : formatReconcile(report, { plan: options.dryRun === true }));
        process.exitCode = reconcileExitCode(report);
      } finally {
        await runtime.close();
      }
    });
}

/** 0 when clean (after a repair: when the check after it found nothing), 1 otherwise. Pure. */
export function reconcileExitCode(report: ReconcileReport): 0 | 1 {
  return (report.repair ? report.repair.clean : report.clean) ? 0 : 1;
}

/** Findings listed per kind before "... and N more". */
const DETAILS_PER_KIND = 20;

/** The report as text: a summary table, then the findings of each kind (with the repair of each under `plan`). Pure. */
export function formatReconcile(report: ReconcileReport, options: { plan?: boolean } = {}): string {
  const lines: string[] = [];
  const versions = report.versions.map((v) => `${v.version}${v.listed ? "" : " (cannot list its ids: orphans looked for among the ids the stores know)"}`);
  lines.push(`checked ${versions.join(", ") || "no index version"} in ${formatDuration(report.ms)}`);
  for (const s of report.skipped) lines.push(`skipped ${s.version}: ${s.reason}`);
  const table = new Table({ head: ["finding", "count", report.repair ? "repair" : options.plan ? "repair would" : "meaning"], style: tableStyle() });
  for (const kind of FINDING_KINDS) table.push([kind, report.counts[kind], report.repair || options.plan ? planOf(kind, report.findings) : KIND_MEANING[kind]]);
  lines.push(table.toString());
  if (report.clean) lines.push("no drift: the indexes, the registry and the documents agree with the manifests");
  for (const kind of FINDING_KINDS) {
    const found = report.findings.filter((f) => f.kind === kind);
    if (found.length === 0) continue;
    lines.push("", `${kind} (${found.length}):`);
    for (const f of found.slice(0, DETAILS_PER_KIND)) lines.push(`  ${describeFinding(f)}${options.plan ? `  → ${repairOf(f)}` : ""}`);
    if (found.length > DETAILS_PER_KIND) lines.push(`  ... and ${found.length - DETAILS_PER_KIND} more (--json lists every one)`);
  }
  if (report.repair) {
    const a = report.repair.applied;
    lines.push("", `repaired: ${a.registriesRebuilt} registries rebuilt, ${a.upserted} datapoints upserted (${a.embedded} embedded again), ${a.removed} removed, ${a.restrictsRewritten} restricts rewritten, ${a.requeued} documents queued again`);
    lines.push(report.repair.clean ? "checked again: no drift left" : `checked again: ${report.repair.remaining.length} differences left:`);
    for (const f of report.repair.remaining.slice(0, DETAILS_PER_KIND)) lines.push(`  ${describeFinding(f)}`);
  } else if (!report.clean && !options.plan) {
    lines.push("", "`ragops reconcile --dry-run` shows what a repair would do; `ragops reconcile --repair` does it.");
  }
  return lines.join("\n");
}

/** The repairs a kind's findings take, in words (one kind can take two). Pure. */
function planOf(kind: FindingKind, findings: readonly Finding[]): string {
  const plans = [...new Set(findings.filter((f) => f.kind === kind).map(repairOf))];
  if (kind === "duplicate") return plans.map((p) => p.replace(/ \([0-9a-f]+ stands in for it\)/, " (its stand-in stays)")).filter((p, i, all) => all.indexOf(p) === i).join("; ");
  return plans.join("; ");
}
