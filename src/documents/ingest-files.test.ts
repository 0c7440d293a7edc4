import { EventEmitter } from "node:events";
import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Job, QueueEvents } from "bullmq";
import { describe, expect, it } from "vitest";
import { collectFiles, watchJobs, type JobOutcome } from "./ingest-files.js";

/** Jobs as the queue stores them: state and result, read through getJob. */
function fakeQueue(stored: Record<string, { state: string; returnvalue?: unknown; failedReason?: string }> = {}) {
  const getJob = async (id: string) => {
    const job = stored[id];
    return job ? ({ id, returnvalue: job.returnvalue, failedReason: job.failedReason, getState: async () => job.state } as unknown as Job) : undefined;
  };
  const emitter = new EventEmitter();
  return { emitter, events: emitter as unknown as QueueEvents, getJob };
}

describe("watching ingest jobs as they are submitted", () => {
  it("ends once sealed and every added job has ended, from events or from the stored state of a job that ended before it was added", async () => {
    const { emitter, events, getJob } = fakeQueue({ early: { state: "completed", returnvalue: { chunks: 3 } }, a: { state: "active" }, b: { state: "waiting" } });
    const seen: string[] = [];
    const watch = watchJobs(events, getJob, (jobId, progress, outcome) => seen.push(outcome ? `${jobId}:${outcome.state}` : `${jobId}:${progress?.stage}`));
    watch.add("early");
    watch.add("a");
    await new Promise((resolve) => setImmediate(resolve));
    emitter.emit("progress", { jobId: "a", data: { stage: "embedding", percent: 60 } });
    emitter.emit("completed", { jobId: "a", returnvalue: { chunks: 5 } });
    watch.add("b");
    watch.seal();
    emitter.emit("completed", { jobId: "someone-elses", returnvalue: {} });
    emitter.emit("failed", { jobId: "b", failedReason: "bad bytes" });
    const outcomes = await watch.ended;
    expect([...outcomes.values()]).toEqual<JobOutcome[]>([
      { jobId: "early", state: "completed", result: { chunks: 3 } },
      { jobId: "a", state: "completed", result: { chunks: 5 } },
      { jobId: "b", state: "failed", failedReason: "bad bytes" },
    ]);
    expect(seen).toEqual(["early:completed", "a:embedding", "a:completed", "b:failed"]);
    expect(emitter.listenerCount("completed")).toBe(0);
  });

  it("does not end before it is sealed, even when every job added so far has ended", async () => {
    const { emitter, events, getJob } = fakeQueue({ a: { state: "active" } });
    const watch = watchJobs(events, getJob);
    let ended = false;
    void watch.ended.then(() => (ended = true));
    watch.add("a");
    emitter.emit("completed", { jobId: "a", returnvalue: {} });
    await new Promise((resolve) => setImmediate(resolve));
    expect(ended).toBe(false);
    watch.seal();
    await watch.ended;
  });

  it("stops waiting at once when stopped, with the jobs that ended so far, and stops listening", async () => {
    const { emitter, events, getJob } = fakeQueue({ a: { state: "active" }, b: { state: "waiting" } });
    const watch = watchJobs(events, getJob);
    watch.add("a");
    watch.add("b");
    watch.seal();
    emitter.emit("completed", { jobId: "a", returnvalue: {} });
    watch.stop();
    expect([...(await watch.ended).keys()]).toEqual(["a"]);
    expect(emitter.listenerCount("failed")).toBe(0);
  });
});

describe("finding the files to ingest", () => {
  it("takes the files a parser reads from folders, and names the other files as skipped", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ragops-collect-"));
    mkdirSync(join(dir, "sub"));
    for (const name of ["a.md", "sub/b.txt", "logo.png", "notes", ".hidden.md"]) writeFileSync(join(dir, name), "x");
    const { files, skipped } = await collectFiles([dir]);
    expect(files.map((f) => f.documentId)).toEqual(["a.md", "sub__b.txt"]);
    expect(skipped).toEqual([
      { path: join(dir, "logo.png"), reason: "no parser reads .png files" },
      { path: join(dir, "notes"), reason: "no parser reads files without an extension" },
    ]);
  });
});
