/**
 * The states of an index version and the moves between them (design:
 * ../shared/DESIGN.md, "Index lifecycle"):
 *
 *   building -> ready <-> evaluated -> live -> previous -> retired
 *       \________________\__ failed
 *
 * Two records hold that path. A version's record (versions.ts) moves only by
 * the events below: building -> ready -> evaluated (and back to ready when a
 * later evaluation fails the gate), to failed, to retired.
 * Live and previous are never written to it: the alias (alias.ts) alone says
 * which versions those are, so a swap or rollback is one atomic write, and
 * `effectiveState` (versions.ts) combines the two into the state an operator
 * sees. Promotion reads the record (`admitsPromotion`) and writes the alias.
 *
 * Pure: callers load a version, ask whether a move is allowed, then write the
 * new state by compare-and-swap.
 */
export const INDEX_STATES = ["building", "ready", "evaluated", "live", "previous", "retired", "failed"] as const;
export type IndexState = (typeof INDEX_STATES)[number];

/**
 * What can happen to a version record. `build-*` are applied by the build
 * (build.ts) and the bootstrap (catalog.ts), `retired` by retire
 * (operations.ts). The gated evaluation (indexer/evaluation/gated.ts) applies
 * one of two with the report id, so the state says what the latest
 * evaluation said: a version is evaluated only while its latest report passed.
 * `evaluation-passed` when the gate passes (ready or evaluated -> evaluated);
 * `evaluation-gate-failed` when it fails (evaluated -> ready, ready stays
 * ready; the record's lastEvaluation names the failing report, which swap
 * quotes when it refuses). A failing gate is a verdict on retrieval quality,
 * not on the index, so the version keeps serving and may be evaluated again or
 * forced. `evaluation-failed` marks a version unable to serve (cannotServe)
 * and is kept for an evaluation that finds the index itself broken; it is
 * never for the live or previous version evaluated as the baseline.
 */
export type IndexEvent = "build-succeeded" | "build-failed" | "evaluation-passed" | "evaluation-gate-failed" | "evaluation-failed" | "retired";

const MOVES: Record<IndexEvent, Partial<Record<IndexState, IndexState>>> = {
  "build-succeeded": { building: "ready" },
  "build-failed": { building: "failed" },
  // Evaluating again (a new golden set) keeps an evaluated version evaluated.
  "evaluation-passed": { ready: "evaluated", evaluated: "evaluated" },
  // Evaluated means "the latest evaluation passed": a failing one takes it back.
  "evaluation-gate-failed": { ready: "ready", evaluated: "ready" },
  "evaluation-failed": { ready: "failed", evaluated: "failed" },
  // Whether the version is live or previous is the alias's to refuse (fenceRetired), before the record moves.
  retired: { ready: "retired", evaluated: "retired", failed: "retired" },
};

export interface MoveRefused {
  ok: false;
  reason: string;
}

/** The state after `event`, or why the move is refused (e.g. retiring a version still building). */
export function nextState(state: IndexState, event: IndexEvent): { ok: true; state: IndexState } | MoveRefused {
  const to = MOVES[event][state];
  if (to) return { ok: true, state: to };
  if (event === "retired" && state === "building") return { ok: false, reason: "a version still building cannot be retired; wait for it to finish or fail" };
  if (event === "retired" && state === "retired") return { ok: false, reason: "the version is already retired" };
  return { ok: false, reason: `a version that is ${state} cannot be ${event.replace(/-/g, " ")}` };
}

/**
 * Whether a version whose record is in `state` may be made live: with a
 * passing evaluation, or ready and forced by an operator (the audit log
 * records it). Never a failed version: it stopped following the corpus when
 * it failed, so its index is partial.
 */
export function admitsPromotion(state: IndexState, options: { force: boolean }): boolean {
  return state === "evaluated" || (options.force && state === "ready");
}
