import { describe, expect, it } from "vitest";
import { nextState, type IndexEvent, type IndexState } from "./states.js";

describe("index version states", () => {
  it("follows building -> ready -> evaluated -> live -> previous -> retired", () => {
    const path: IndexEvent[] = ["build-succeeded", "evaluation-passed", "promoted", "demoted", "retired"];
    let state: IndexState = "building";
    const seen: IndexState[] = [state];
    for (const event of path) {
      const next = nextState(state, event);
      expect(next.ok).toBe(true);
      if (next.ok) state = next.state;
      seen.push(state);
    }
    expect(seen).toEqual(["building", "ready", "evaluated", "live", "previous", "retired"]);
  });

  it("refuses to retire the live version, and says why", () => {
    expect(nextState("live", "retired")).toEqual({ ok: false, reason: "the live version cannot be retired; swap another version in first" });
  });

  it("lets previous come back by rollback, and only previous", () => {
    expect(nextState("previous", "rolled-back-to")).toEqual({ ok: true, state: "live" });
    expect(nextState("retired", "rolled-back-to").ok).toBe(false);
  });

  it("needs a passing evaluation to promote, unless forced", () => {
    expect(nextState("ready", "promoted").ok).toBe(false);
    expect(nextState("ready", "forced-promotion")).toEqual({ ok: true, state: "live" });
  });

  it("never moves a retired version anywhere", () => {
    const events: IndexEvent[] = ["build-succeeded", "build-failed", "evaluation-passed", "evaluation-failed", "promoted", "forced-promotion", "demoted", "rolled-back-to", "retired"];
    for (const event of events) expect(nextState("retired", event).ok, event).toBe(false);
  });
});
