import { ConflictError } from "../../core/errors.js";
import { readAlias } from "../lifecycle/alias.js";
import { appendAudit } from "../lifecycle/audit.js";
import { cannotServe, getVersion, moveVersion, type LastEvaluation } from "../lifecycle/versions.js";
import { evaluateGate, type QuestionMetrics } from "./gate.js";
import { evaluateVersion, saveReport, type EvaluateDeps, type EvaluateRequest, type EvaluationReport } from "./run.js";

/**
 * Evaluating a version is what earns it promotion. A candidate (any version
 * but the live one) is evaluated, then live on the same golden set version
 * (fresh: live follows the corpus, so an older live report may be stale), and
 * the gate compares the two question by question (gate.ts). The verdict moves
 * the candidate with the report id, so its state tells the truth about its
 * latest evaluation: a pass moves it to evaluated (evaluation-passed); a fail
 * moves an evaluated version back to ready and keeps a ready one ready
 * (evaluation-gate-failed; not evaluation-failed, which would mark it unable
 * to serve), with the failing report as lastEvaluation, which swap then names.
 * Either way the audit log gets an evaluate entry with the report id. The live
 * version evaluated on its own is only measured.
 */
export async function evaluateWithGate(deps: EvaluateDeps, request: Omit<EvaluateRequest, "mode"> & { actor: string }): Promise<EvaluationReport> {
  const { alias } = await readAlias(deps.store);
  const record = await getVersion(deps.store, request.version);
  const problem = cannotServe(record, alias);
  if (problem) throw new ConflictError(`index version ${request.version} cannot be evaluated: it is ${problem}`, { version: request.version, state: record.state });

  const liveVersion = alias.live;
  const isCandidate = liveVersion !== request.version;
  // The candidate's progress is the first half when live is evaluated after it.
  const halves = isCandidate && liveVersion !== null;
  const candidate = await evaluateVersion(deps, {
    ...request,
    onProgress: (done, total) => request.onProgress?.(done, halves ? total * 2 : total),
  });
  if (!isCandidate) {
    await appendAudit(deps.store, { actor: request.actor, action: "evaluate", version: request.version, reportId: candidate.id, reason: `live version measured on ${describe(candidate)}` });
    return candidate;
  }
  const goldenSet = { name: candidate.goldenSet.name, version: candidate.goldenSet.version };
  const live = liveVersion
    ? await evaluateVersion(deps, { version: liveVersion, goldenSet, k: candidate.k, onProgress: (done, total) => request.onProgress?.(total + done, total * 2) })
    : undefined;
  const verdict = evaluateGate({ candidate: rows(candidate), live: live ? rows(live) : undefined, gate: deps.evaluation.gate, bootstrap: deps.evaluation.bootstrap });
  const report: EvaluationReport = { ...candidate, gate: verdict, ...(live ? { live: { version: live.version, reportId: live.id } } : {}) };
  await saveReport(deps.store, report);

  const lastEvaluation: LastEvaluation = { reportId: report.id, passed: verdict.passed, goldenSet, summary: verdict.summary, at: report.createdAt };
  // cannotServe let only a ready or evaluated record through; the move is by compare-and-swap, so a version retired meanwhile refuses it.
  await moveVersion(deps.store, request.version, verdict.passed ? "evaluation-passed" : "evaluation-gate-failed", { reportId: report.id, lastEvaluation });
  await appendAudit(deps.store, { actor: request.actor, action: "evaluate", version: request.version, reportId: report.id, reason: `gate ${verdict.summary} on ${describe(report)}${live ? ` against live ${live.version} (${live.id})` : ""}` });
  return report;
}

const rows = (report: EvaluationReport): QuestionMetrics[] => report.questions.map((q) => ({ questionId: q.id, metrics: q.metrics }));
const describe = (report: EvaluationReport) => `golden set ${report.goldenSet.name}@${report.goldenSet.version}`;
