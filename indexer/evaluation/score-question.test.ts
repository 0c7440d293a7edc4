import { describe, expect, it } from "vitest";
import type { RetrievedChunk } from "./retrieve.js";
import { scoreQuestion } from "./run.js";

const hit = (chunkId: string, text: string, score: number): RetrievedChunk => ({ chunkId, score, documentId: `${chunkId}.md`, documentIds: [`${chunkId}.md`], text });

const paragraph =
  "Charging dock\n\nThe CD-10 dock needs at least 1.5 m of clear floor directly in front of the contact plate, so the robot can turn and reverse onto the dock. " +
  "Mount it on a wall with a dedicated circuit: a 20 A breaker in North America or a 16 A breaker in Europe and the UK. Keep the dock away from direct sunlight.";

describe("scoring a question judged by reference contexts only", () => {
  it("counts a retrieved chunk relevant when a sentence-long reference occurs in it, as well as when the whole texts are alike", () => {
    const hits = [hit("other", "Battery care: store batteries at 40 % charge in a cool place.", 0.9), hit("dock", paragraph, 0.8)];
    const { row } = scoreQuestion({ id: "q", question: "Which breaker for the dock in Europe?", referenceContexts: ["a 16 A breaker in Europe and the UK"] }, hits, "chunk", [1, 3]);
    expect(row.metrics["hit@3"]).toBe(1);
    expect(row.metrics.mrr).toBe(0.5);
    const whole = scoreQuestion({ id: "q", question: "?", referenceContexts: ["Battery care: store batteries at 40 percent charge in a cool place"] }, hits, "chunk", [1]).row;
    expect(whole.metrics["hit@1"]).toBe(1);
  });

  it("finds nothing relevant when no reference occurs in any retrieved text", () => {
    const { row } = scoreQuestion({ id: "q", question: "?", referenceContexts: ["firmware rollback with the recovery key"] }, [hit("dock", paragraph, 0.8)], "chunk", [1]);
    expect(row.metrics["hit@1"]).toBe(0);
  });
});
