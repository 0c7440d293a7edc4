import { EventEmitter } from "node:events";
import type { Job, Worker } from "bullmq";
import { describe, expect, it } from "vitest";
import { UnprocessableDocumentError } from "../core/errors.js";
import { createMetrics, failureReason, observeWorker } from "./metrics.js";
import { startMetricsServer } from "./metrics-server.js";

const job = (name: string) => ({ name, processedOn: Date.now() - 1500 }) as Job;

async function value(metrics: ReturnType<typeof createMetrics>, name: string, labels: Record<string, string>): Promise<number | undefined> {
  const metric = metrics.registry.getSingleMetric(name);
  const { values } = await metric!.get();
  return values.find((v) => Object.entries(labels).every(([k, l]) => v.labels[k] === l))?.value;
}

describe("worker metrics", () => {
  it("count what a completed job's result says it did, and how long it ran", async () => {
    const metrics = createMetrics();
    const worker = new EventEmitter();
    observeWorker(metrics, "ingest", worker as unknown as Worker);
    worker.emit("completed", job("ingest"), { embedded: 7, cacheHits: 3, indexWrites: 7, metadataWrites: 1, indexRemovals: 2 });
    worker.emit("completed", job("ingest"), { embedded: 1, cacheHits: 0, indexWrites: 1, metadataWrites: 0, indexRemovals: 0 });
    expect(await value(metrics, "ragops_chunks_embedded_total", { queue: "ingest" })).toBe(8);
    expect(await value(metrics, "ragops_embedding_cache_hits_total", { queue: "ingest" })).toBe(3);
    expect(await value(metrics, "ragops_index_writes_total", { queue: "ingest", kind: "upsert" })).toBe(8);
    expect(await value(metrics, "ragops_index_writes_total", { queue: "ingest", kind: "remove" })).toBe(2);
    const durations = (await metrics.registry.getSingleMetric("ragops_job_duration_seconds")!.get()).values as Array<{ metricName?: string; labels: Record<string, unknown>; value: number }>;
    expect(durations.find((v) => v.metricName === "ragops_job_duration_seconds_count" && v.labels.outcome === "completed")?.value).toBe(2);
    expect(durations.find((v) => v.metricName === "ragops_job_duration_seconds_sum")?.value).toBeGreaterThanOrEqual(3);
  });

  it("count failures by reason and evaluations by outcome", async () => {
    const metrics = createMetrics();
    const worker = new EventEmitter();
    observeWorker(metrics, "lifecycle", worker as unknown as Worker);
    worker.emit("failed", job("build"), new UnprocessableDocumentError("corrupt"));
    worker.emit("failed", undefined, new Error("lost"));
    worker.emit("completed", job("evaluate"), { passed: false });
    worker.emit("completed", job("evaluate"), { passed: true });
    worker.emit("completed", job("evaluate"), { reportId: "r" });
    expect(await value(metrics, "ragops_job_failures_total", { queue: "lifecycle", name: "build", reason: "unprocessable_document" })).toBe(1);
    expect(await value(metrics, "ragops_job_failures_total", { queue: "lifecycle", name: "unknown", reason: "error" })).toBe(1);
    for (const outcome of ["passed", "failed", "ungated"]) expect(await value(metrics, "ragops_evaluations_total", { outcome })).toBe(1);
    const unrecoverable = Object.assign(new Error("bad"), { name: "UnrecoverableError" });
    expect(failureReason(unrecoverable)).toBe("unrecoverable");
  });

  it("are served on the worker's own port at GET /metrics, and nothing else there", async () => {
    const metrics = createMetrics();
    metrics.watchQueues({ ingest: { getJobCounts: async () => ({ waiting: 4, failed: 1 }) } });
    const server = await startMetricsServer(metrics, { host: "127.0.0.1", port: 0 });
    try {
      const response = await fetch(server.url);
      expect(response.status).toBe(200);
      const text = await response.text();
      expect(text).toMatch(/^ragops_queue_jobs\{queue="ingest",state="waiting"\} 4$/m);
      expect(text).toMatch(/^ragops_queue_jobs\{queue="ingest",state="failed"\} 1$/m);
      expect((await fetch(server.url.replace("/metrics", "/"))).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
