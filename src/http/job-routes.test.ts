import { describe, expect, it } from "vitest";
import { jobView } from "./job-routes.js";

const base = {
  id: "7",
  name: "ingest",
  progress: { stage: "embedding", percent: 50 },
  attemptsMade: 1,
  opts: { attempts: 3 },
  failedReason: "",
  returnvalue: null,
  data: { documentId: "doc-1", version: 2 },
  timestamp: Date.UTC(2025, 0, 2, 3, 4, 5),
  processedOn: undefined,
  finishedOn: undefined,
};

describe("job view", () => {
  it("shows a queued job with its document, no failure, no result and no start or finish time", () => {
    expect(jobView(base, "waiting")).toEqual({
      id: "7",
      name: "ingest",
      state: "waiting",
      progress: { stage: "embedding", percent: 50 },
      attemptsMade: 1,
      attempts: 3,
      failedReason: undefined,
      result: undefined,
      documentId: "doc-1",
      version: 2,
      createdAt: "2025-01-02T03:04:05.000Z",
      startedAt: undefined,
      finishedAt: undefined,
    });
  });

  it("shows a finished job's reason, result and times as ISO strings, and one attempt when none is configured", () => {
    const view = jobView({ ...base, opts: {}, failedReason: "boom", returnvalue: { chunks: 3 }, processedOn: Date.UTC(2025, 0, 2, 3, 4, 6), finishedOn: Date.UTC(2025, 0, 2, 3, 4, 7) }, "failed");
    expect(view).toMatchObject({ attempts: 1, failedReason: "boom", result: { chunks: 3 }, startedAt: "2025-01-02T03:04:06.000Z", finishedAt: "2025-01-02T03:04:07.000Z" });
  });
});
