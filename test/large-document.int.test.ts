import { monitorEventLoopDelay } from "node:perf_hooks";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { searchApi, startStack, uploadDocument, type Stack } from "./support/stack.js";

const MB = 1_000_000;

/** About `bytes` of plain text: paragraphs of words drawn from a fixed vocabulary by a seeded generator, so chunks differ. */
function largeText(bytes: number): string {
  let state = 0x2545f491;
  const next = () => (state = (Math.imul(state, 1664525) + 1013904223) >>> 0);
  const words = Array.from({ length: 5_000 }, (_, i) => `w${i.toString(36)}${"abcde".slice(0, i % 5)}`);
  const paragraphs: string[] = ["Warehouse robot maintenance log\n\n"];
  let size = paragraphs[0]?.length ?? 0;
  while (size < bytes) {
    const length = 40 + (next() % 80);
    const paragraph = `${Array.from({ length }, () => words[next() % words.length]).join(" ")}.\n\n`;
    paragraphs.push(paragraph);
    size += paragraph.length;
  }
  paragraphs.push("The last paragraph names the quartz gearbox calibration.\n");
  return paragraphs.join("");
}

describe("a large text document (issue 9, item 9)", () => {
  let stack: Stack;

  beforeAll(async () => {
    // A short job lock, renewed every 3.5 s: a main thread blocked for longer than the lock always loses the job to
    // the stalled-job check, and the job runs again. Measured: the longest block is 0.7 s on a quiet machine and 2.8 s
    // with two busy-loops beside a full test run on 2 cores; with the loops' pauses removed it is 8.3 s, quiet.
    stack = await startStack({ queue: { lockDurationMs: 7_000, stalledIntervalMs: 1_000 } });
  });

  afterAll(async () => {
    await stack?.stop();
  }, 120_000);

  it("is parsed, chunked and embedded while the worker's event loop stays responsive, and its job runs once", { timeout: 240_000 }, async () => {
    const text = largeText(20 * MB);
    const activations: string[] = [];
    const stalled: string[] = [];
    stack.worker.worker.on("active", (job) => activations.push(String(job.id)));
    stack.worker.worker.on("stalled", (jobId) => stalled.push(jobId));
    // Waits on the worker's own events: this process is the worker, and its HTTP answers are what a blocked loop delays.
    const outcomes = new Map<string, { state: string; failedReason?: string }>();
    let settle: () => void = () => undefined;
    const settled = (id: string) => new Promise<{ state: string; failedReason?: string }>((resolve) => {
      settle = () => outcomes.has(id) && resolve(outcomes.get(id) as { state: string });
      settle();
    });
    stack.worker.worker.on("completed", (done) => (outcomes.set(String(done.id), { state: "completed" }), settle()));
    stack.worker.worker.on("failed", (failed, error) => (outcomes.set(String(failed?.id), { state: "failed", failedReason: error.message }), settle()));
    const delay = monitorEventLoopDelay({ resolution: 20 });
    delay.enable();
    const response = await uploadDocument(stack.url, { name: "log.txt", content: text, type: "text/plain" }, {}, "PUT", "/v1/documents/log");
    const { jobId } = (await response.json()) as { jobId: string };
    const job = await settled(jobId);
    delay.disable();
    expect(job.state, job.failedReason).toBe("completed");
    // Responsive enough is what BullMQ needs: the job's 7 s lock renewed every 3.5 s, so it is never taken for stalled
    // and never runs twice (chunking 20 MB on the main thread blocks it for many seconds). The delay itself depends on
    // how busy the machine is, so it is reported, not asserted.
    const blocked = `longest event-loop delay ${Math.round(delay.max / 1e6)} ms`;
    expect(activations.filter((id) => id === jobId), blocked).toHaveLength(1);
    expect(stalled, blocked).toEqual([]);
    const found = await searchApi(stack.url, { query: "quartz gearbox calibration", k: 1 });
    expect(found.body.results[0]?.documentId).toBe("log");
  });
});
