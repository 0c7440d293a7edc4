/**
 * The promotion gate: a pure decision over per-question metric rows. A candidate
 * (green) passes when every configured rule passes:
 *
 * - threshold:      the candidate's mean of a metric is at least its floor;
 * - non-regression: the paired bootstrap CI of mean(green − live) over the same
 *                   questions has its upper bound at or above −tolerance;
 * - tail:           at most maxShare of the questions lose more than delta
 *                   against live, so a flat mean cannot hide a few broken ones.
 *
 * Without a live version only the thresholds apply, and the verdict says so.
 */
import type { BootstrapConfig, GateConfig } from "../../config/schema.js";
import { InvalidRequestError } from "../../core/errors.js";
import { type ConfidenceInterval, mean, pairedBootstrapCI, streamSeed } from "./bootstrap.js";

/** One question's metrics, as an evaluation report's row holds them (metric name → value). */
export interface QuestionMetrics {
  questionId: string;
  metrics: Readonly<Record<string, number>>;
}

export interface GateInput {
  candidate: readonly QuestionMetrics[];
  /** The live version's rows on the same golden set; absent when nothing is live yet. */
  live?: readonly QuestionMetrics[] | undefined;
  gate: GateConfig;
  bootstrap: BootstrapConfig;
}

export type GateRuleName = "threshold" | "non-regression" | "tail";

export interface GateRuleResult {
  rule: GateRuleName;
  metric: string;
  /** threshold: candidate mean; non-regression: mean(green − live); tail: share of questions with a large loss. */
  observed: number;
  /** threshold: the floor (observed ≥ bound); non-regression: −tolerance (CI upper ≥ bound); tail: maxShare (observed ≤ bound). */
  bound: number;
  passed: boolean;
  detail: string;
  /** non-regression: the paired CI of mean(green − live). */
  interval?: ConfidenceInterval;
  /** tail: the questions that lost more than delta, largest loss first. */
  questionIds?: string[];
}

export interface GateVerdict {
  passed: boolean;
  /** False when there was no live version: only the thresholds were checked. */
  comparedWithLive: boolean;
  summary: string;
  rules: GateRuleResult[];
}

/**
 * Metric values are sums and quotients of floats; two evaluations of the same
 * ranking may differ in the last bits by summation order. A value that equals a
 * bound to 1e-12 is taken as equal, so a boundary never flips on rounding.
 */
const EPSILON = 1e-12;

export function evaluateGate(input: GateInput): GateVerdict {
  const { candidate, live, gate, bootstrap } = input;
  checkRows(candidate, "candidate");
  const rules: GateRuleResult[] = Object.entries(gate.thresholds).map(([metric, floor]) => thresholdRule(metric, column(candidate, metric, "candidate"), floor));
  if (live) {
    checkRows(live, "live");
    const pairedLive = alignLive(candidate, live);
    for (const metric of gate.nonRegression.metrics) {
      rules.push(nonRegressionRule(metric, column(candidate, metric, "candidate"), column(pairedLive, metric, "live"), gate.nonRegression, bootstrap));
    }
    for (const metric of gate.tail.metrics) {
      rules.push(tailRule(metric, candidate, column(candidate, metric, "candidate"), column(pairedLive, metric, "live"), gate.tail));
    }
  }
  const passed = rules.every((rule) => rule.passed);
  return { passed, comparedWithLive: live !== undefined, summary: summarise(passed, rules, live !== undefined), rules };
}

function thresholdRule(metric: string, values: number[], floor: number): GateRuleResult {
  const observed = mean(values);
  const passed = observed >= floor - EPSILON;
  return {
    rule: "threshold",
    metric,
    observed,
    bound: floor,
    passed,
    detail: passed ? `mean ${metric} ${fmt(observed)} ≥ ${fmt(floor)}` : `mean ${metric} ${fmt(observed)} is below the threshold ${fmt(floor)}`,
  };
}

function nonRegressionRule(metric: string, green: number[], live: number[], config: GateConfig["nonRegression"], bootstrap: BootstrapConfig): GateRuleResult {
  const interval = pairedBootstrapCI(green, live, { resamples: bootstrap.resamples, seed: streamSeed(bootstrap.seed, metric), confidence: config.confidence });
  const bound = -config.tolerance;
  const passed = interval.upper >= bound - EPSILON;
  const ci = `${pct(config.confidence)} CI [${signed(interval.lower)}, ${signed(interval.upper)}]`;
  return {
    rule: "non-regression",
    metric,
    observed: interval.estimate,
    bound,
    passed,
    interval,
    detail: passed
      ? `mean ${metric} difference (green − live) ${signed(interval.estimate)}, ${ci}: upper bound not below ${signed(bound)}`
      : `mean ${metric} difference (green − live) ${signed(interval.estimate)}, ${ci}: green is worse than live by more than the tolerance ${fmt(config.tolerance)} (upper bound below ${signed(bound)})`,
  };
}

function tailRule(metric: string, candidate: readonly QuestionMetrics[], green: number[], live: number[], config: GateConfig["tail"]): GateRuleResult {
  const losers = green
    .map((value, i) => ({ questionId: (candidate[i] as QuestionMetrics).questionId, difference: value - (live[i] as number) }))
    .filter(({ difference }) => -difference > config.delta + EPSILON)
    .sort((a, b) => a.difference - b.difference);
  const observed = losers.length / green.length;
  const passed = observed <= config.maxShare + EPSILON;
  const worst = losers.slice(0, 5).map(({ questionId, difference }) => `${questionId} (${signed(difference)})`);
  const listed = worst.length ? `; largest: ${worst.join(", ")}${losers.length > worst.length ? ", …" : ""}` : "";
  return {
    rule: "tail",
    metric,
    observed,
    bound: config.maxShare,
    passed,
    questionIds: losers.map((loser) => loser.questionId),
    detail: `${losers.length} of ${green.length} questions (${pct(observed)}) lose more than ${fmt(config.delta)} ${metric} against live; at most ${pct(config.maxShare)} may${listed}`,
  };
}

function summarise(passed: boolean, rules: GateRuleResult[], comparedWithLive: boolean): string {
  const scope = comparedWithLive ? "" : " (no live version: only the absolute thresholds apply)";
  if (rules.length === 0) return `passed: no rule configured${scope}`;
  const failed = rules.filter((rule) => !rule.passed);
  if (passed) return `passed: ${rules.length} of ${rules.length} rules${scope}`;
  return `failed ${failed.length} of ${rules.length} rules: ${failed.map((rule) => `${rule.rule} on ${rule.metric}`).join(", ")}${scope}`;
}

function checkRows(rows: readonly QuestionMetrics[], side: string): void {
  if (rows.length === 0) throw new InvalidRequestError(`the ${side} evaluation has no question rows; the gate needs at least one question`);
  const seen = new Set<string>();
  for (const { questionId } of rows) {
    if (seen.has(questionId)) throw new InvalidRequestError(`the ${side} evaluation lists question "${questionId}" twice; each question must appear once`);
    seen.add(questionId);
  }
}

/** Live's rows in the candidate's question order; both must hold exactly the same questions. */
function alignLive(candidate: readonly QuestionMetrics[], live: readonly QuestionMetrics[]): QuestionMetrics[] {
  const byId = new Map(live.map((row) => [row.questionId, row]));
  const candidateIds = new Set(candidate.map((row) => row.questionId));
  const onlyCandidate = candidate.filter((row) => !byId.has(row.questionId)).map((row) => row.questionId);
  const onlyLive = live.filter((row) => !candidateIds.has(row.questionId)).map((row) => row.questionId);
  if (onlyCandidate.length || onlyLive.length) {
    const parts = [onlyCandidate.length ? `only in the candidate: ${sample(onlyCandidate)}` : "", onlyLive.length ? `only in live: ${sample(onlyLive)}` : ""].filter(Boolean);
    throw new InvalidRequestError(`the candidate and live evaluations must cover the same questions to be compared (${parts.join("; ")}); evaluate both on the same golden set version`, {
      details: { onlyCandidate, onlyLive },
    });
  }
  return candidate.map((row) => byId.get(row.questionId) as QuestionMetrics);
}

function column(rows: readonly QuestionMetrics[], metric: string, side: string): number[] {
  return rows.map(({ questionId, metrics }) => {
    const value = metrics[metric];
    if (value === undefined) throw new InvalidRequestError(`the gate needs ${metric} but the ${side} row of question "${questionId}" has none; evaluate with that metric (and its k) or remove it from evaluation.gate`);
    if (!Number.isFinite(value)) throw new InvalidRequestError(`the ${side} row of question "${questionId}" has ${metric} = ${value}; metric values must be finite numbers`);
    return value;
  });
}

function sample(ids: string[]): string {
  return ids.slice(0, 5).map((id) => `"${id}"`).join(", ") + (ids.length > 5 ? ` and ${ids.length - 5} more` : "");
}

const fmt = (value: number): string => value.toFixed(4);
const signed = (value: number): string => (value >= 0 ? `+${fmt(value)}` : `−${fmt(-value)}`);
const pct = (share: number): string => `${(share * 100).toFixed(1)} %`;
