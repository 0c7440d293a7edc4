/**
 * The states of an index version and the moves between them (design:
 * ../shared/DESIGN.md, "Index lifecycle"):
 *
 *   building -> ready -> evaluated -> live -> previous -> retired
 *       \________________\__ failed
 *
 * Pure: callers load a version, ask whether a move is allowed, then write the
 * new state by compare-and-swap.
 */
export const INDEX_STATES = ["building", "ready", "evaluated", "live", "previous", "retired", "failed"] as const;
export type IndexState = (typeof INDEX_STATES)[number];

export type IndexEvent =
  | "build-succeeded"
  | "build-failed"
  | "evaluation-passed"
  | "evaluation-failed"
  | "promoted"
  | "forced-promotion"
  | "demoted"
  | "rolled-back-to"
  | "retired";

const MOVES: Record<IndexEvent, Partial<Record<IndexState, IndexState>>> = {
  "build-succeeded": { building: "ready" },
  "build-failed": { building: "failed" },
  "evaluation-passed": { ready: "evaluated", evaluated: "evaluated", previous: "previous", live: "live" },
  "evaluation-failed": { ready: "failed", evaluated: "failed" },
  promoted: { evaluated: "live" },
  // An operator may promote without a passing evaluation; the audit log records it. Never a failed
  // version: it stopped following the corpus when it failed, so its index is partial.
  "forced-promotion": { ready: "live", evaluated: "live" },
  demoted: { live: "previous" },
  "rolled-back-to": { previous: "live" },
  retired: { ready: "retired", evaluated: "retired", failed: "retired", previous: "retired" },
};

export interface MoveRefused {
  ok: false;
  reason: string;
}

/** The state after `event`, or why the move is refused (e.g. retiring the live version). */
export function nextState(state: IndexState, event: IndexEvent): { ok: true; state: IndexState } | MoveRefused {
  const to = MOVES[event][state];
  if (to) return { ok: true, state: to };
  if (event === "retired" && (state === "live" || state === "building")) {
    return { ok: false, reason: state === "live" ? "the live version cannot be retired; swap another version in first" : "a version still building cannot be retired; wait for it to finish or fail" };
  }
  if (event === "retired" && state === "retired") return { ok: false, reason: "the version is already retired" };
  return { ok: false, reason: `a version that is ${state} cannot be ${describe(event)}` };
}

function describe(event: IndexEvent): string {
  switch (event) {
    case "promoted":
    case "forced-promotion":
      return "made live";
    case "rolled-back-to":
      return "rolled back to";
    default:
      return event.replace(/-/g, " ");
  }
}
