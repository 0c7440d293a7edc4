import { describe, expect, it } from "vitest";
import type { Job, Queue } from "bullmq";
import { jobView, readJobView } from "./job-routes.js";

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

describe("reading a job that finishes while it is read", () => {
  it("never answers completed without the result (regression: GET /v1/jobs/:id raced the job's completion)", async () => {
    // The job's data is read while it runs; it completes before its state is read.
    let finished = false;
    const snapshot = (result: unknown) => ({ ...base, returnvalue: result, getState: async () => ((finished = true), "completed" as const) }) as unknown as Job;
    const queue = { getJob: async () => (finished ? snapshot({ chunks: 3 }) : snapshot(null)) } as unknown as Pick<Queue, "getJob">;
    const view = await readJobView(queue, "7");
    expect(view).toMatchObject({ state: "completed", result: { chunks: 3 } });
  });

  it("answers nothing for a job the queue does not have", async () => {
    expect(await readJobView({ getJob: async () => undefined } as unknown as Pick<Queue, "getJob">, "nope")).toBeUndefined();
  });
});
