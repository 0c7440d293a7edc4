import { describe, expect, it } from "vitest";
import { INDEX_STATES, admitsPromotion, nextState, type IndexEvent, type IndexState } from "./states.js";

const EVENTS: IndexEvent[] = ["build-succeeded", "build-failed", "evaluation-passed", "evaluation-gate-failed", "evaluation-failed", "retired"];

describe("index version states", () => {
  it("moves a record building -> ready -> evaluated -> retired", () => {
    const path: IndexEvent[] = ["build-succeeded", "evaluation-passed", "retired"];
    let state: IndexState = "building";
    const seen: IndexState[] = [state];
    for (const event of path) {
      const next = nextState(state, event);
      expect(next.ok).toBe(true);
      if (next.ok) state = next.state;
      seen.push(state);
    }
    expect(seen).toEqual(["building", "ready", "evaluated", "retired"]);
  });

  it("never moves a record to live or previous: the alias alone says which versions those are", () => {
    for (const state of INDEX_STATES) {
      for (const event of EVENTS) {
        const next = nextState(state, event);
        if (next.ok) expect(["live", "previous"], `${state} --${event}->`).not.toContain(next.state);
      }
    }
  });

  it("refuses to retire a version still building, and says why", () => {
    expect(nextState("building", "retired")).toEqual({ ok: false, reason: "a version still building cannot be retired; wait for it to finish or fail" });
  });

  it("sends a version that fails its build, or whose evaluation finds its index broken, to failed", () => {
    expect(nextState("building", "build-failed")).toEqual({ ok: true, state: "failed" });
    expect(nextState("ready", "evaluation-failed")).toEqual({ ok: true, state: "failed" });
    expect(nextState("failed", "evaluation-passed").ok).toBe(false);
  });

  it("sends an evaluated version whose latest evaluation fails the gate back to ready, keeps a ready one ready, and moves nothing else", () => {
    expect(nextState("evaluated", "evaluation-gate-failed")).toEqual({ ok: true, state: "ready" });
    expect(nextState("ready", "evaluation-gate-failed")).toEqual({ ok: true, state: "ready" });
    // And a later pass earns evaluated again.
    expect(nextState("ready", "evaluation-passed")).toEqual({ ok: true, state: "evaluated" });
    for (const state of ["building", "failed", "retired"] as const) expect(nextState(state, "evaluation-gate-failed").ok, state).toBe(false);
  });

  it("needs a passing evaluation to promote, unless forced, and never promotes a failed, building or retired version", () => {
    const admitted = INDEX_STATES.flatMap((state) => [false, true].filter((force) => admitsPromotion(state, { force })).map((force) => `${state}${force ? " (forced)" : ""}`));
    expect(admitted).toEqual(["ready (forced)", "evaluated", "evaluated (forced)"]);
  });

  it("never moves a retired version anywhere", () => {
    for (const event of EVENTS) expect(nextState("retired", event).ok, event).toBe(false);
  });
});
