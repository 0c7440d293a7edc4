import Table from "cli-table3";
import type { EvaluationReport } from "../../indexer/evaluation/run.js";
import type { SearchResult } from "../search.js";

export function formatSearchResults(results: readonly SearchResult[], width = process.stdout.columns || 120): string {
  if (results.length === 0) return "  (no results)";
  const textWidth = Math.max(40, Math.min(90, width - 60));
  const table = new Table({
    head: ["#", "score", "document", "where", "text"],
    colWidths: [4, 8, 26, 24, textWidth],
    wordWrap: true,
    wrapOnWordBoundary: true,
    style: tableStyle(),
  });
  for (const r of results) {
    const where = [r.headingPath.join(" › ") || r.title, r.pageStart !== undefined ? `p. ${r.pageStart}${r.pageEnd && r.pageEnd !== r.pageStart ? `-${r.pageEnd}` : ""}` : ""].filter(Boolean).join("\n");
    table.push([String(r.rank), r.score.toFixed(3), r.documentId, where, excerpt(r.text, textWidth * 3)]);
  }
  return table.toString();
}

function excerpt(text: string, max: number): string {
  const flat = text.replace(/^#+\s.*$/gm, "").replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).replace(/\s+\S*$/, "")}…`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Colours only on a terminal; piped output stays plain text. */
export function tableStyle(): { head: string[]; border: string[] } {
  return process.stdout.isTTY ? { head: ["cyan"], border: ["grey"] } : { head: [], border: [] };
}

const fmt = (value: number | undefined) => (value === undefined ? "" : value.toFixed(4));
const meanWithCi = (aggregate: { mean: number; ci: [number, number] } | undefined) => (aggregate ? `${fmt(aggregate.mean)} [${fmt(aggregate.ci[0])}, ${fmt(aggregate.ci[1])}]` : "");

/**
 * The metric table (live's mean and 95 % CI beside the candidate's when the
 * gate compared with live, and the difference), then the gate's verdict rule by
 * rule. `metrics` keeps only those rows, in that order (the demo's short table).
 */
export function formatEvaluation(report: EvaluationReport, live?: EvaluationReport, options: { metrics?: readonly string[] } = {}): string {
  const named = (r: EvaluationReport) => `${r.version}${r.mode ? ` ${r.mode}` : ""}`;
  const head = ["metric", ...(live ? [`live ${named(live)} mean [95 % CI]`] : []), `${live ? "green " : ""}${named(report)} mean [95 % CI]`, ...(live ? ["Δ"] : []), "n"];
  const metrics = new Table({ head, style: tableStyle() });
  const names = options.metrics ?? Object.keys(report.aggregates);
  for (const name of names) {
    const aggregate = report.aggregates[name];
    if (!aggregate) continue;
    const liveMean = live?.aggregates[name]?.mean;
    const delta = liveMean === undefined ? "" : `${aggregate.mean - liveMean >= 0 ? "+" : ""}${fmt(aggregate.mean - liveMean)}`;
    metrics.push([name, ...(live ? [meanWithCi(live.aggregates[name])] : []), meanWithCi(aggregate), ...(live ? [delta] : []), String(aggregate.n)]);
  }
  const lines = [
    `evaluation ${report.id}: ${report.version}${report.mode ? ` (${report.mode})` : ""} on golden set ${report.goldenSet.name}@${report.goldenSet.version} (${report.questions.length} questions, judged by ${report.goldenSet.judgmentLevel}, k = ${report.k})`,
    metrics.toString(),
  ];
  if (!report.gate) {
    lines.push(`no gate: ${report.version} is the live version, measured only`);
    return lines.join("\n");
  }
  const verdict = new Table({ head: ["rule", "metric", "observed", "bound", "result"], style: tableStyle() });
  // Non-regression compares the CI's upper bound with the bound, not the mean: show both, or a mean below the bound reads like a wrong "pass".
  for (const rule of report.gate.rules) verdict.push([rule.rule, rule.metric, rule.interval ? `${fmt(rule.observed)} (CI upper ${fmt(rule.interval.upper)})` : fmt(rule.observed), fmt(rule.bound), rule.passed ? "pass" : "FAIL"]);
  lines.push(`gate: ${report.gate.summary}`, verdict.toString());
  for (const rule of report.gate.rules.filter((r) => !r.passed)) lines.push(`  ${rule.rule} ${rule.metric}: ${rule.detail}`);
  return lines.join("\n");
}
