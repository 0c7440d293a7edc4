import type { Job, Queue, Worker } from "bullmq";
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";
import { isRagopsError } from "../core/errors.js";

/**
 * Prometheus metrics of one process: the control plane serves them at
 * GET /metrics (operator role), a worker on metrics.workerPort. One registry
 * per runtime (metricsFor), so processes that run a control plane and workers
 * together (tests, the demo) publish one set.
 */
export interface Metrics {
  registry: Registry;
  httpRequests: Histogram<"method" | "route" | "status">;
  httpErrors: Counter<"code">;
  connectionsDropped: Counter;
  searchDuration: Histogram<"version" | "mode">;
  aliasChanges: Counter<"action">;
  evaluations: Counter<"outcome">;
  jobDuration: Histogram<"queue" | "name" | "outcome">;
  jobFailures: Counter<"queue" | "name" | "reason">;
  chunksEmbedded: Counter<"queue">;
  embeddingCacheHits: Counter<"queue">;
  indexWrites: Counter<"queue" | "kind">;
  /** Adds the job counts of these queues to every scrape. */
  watchQueues(queues: Record<string, Pick<Queue, "getJobCounts">>): void;
}

const QUEUE_STATES = ["waiting", "active", "delayed", "prioritized", "waiting-children", "completed", "failed"] as const;

const byRuntime = new WeakMap<object, Metrics>();

/** The metrics of a runtime (made on first use). */
export function metricsFor(owner: object): Metrics {
  let metrics = byRuntime.get(owner);
  if (!metrics) byRuntime.set(owner, (metrics = createMetrics()));
  return metrics;
}

export function createMetrics(): Metrics {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: "ragops_" });
  const registers = [registry];
  const watched: Record<string, Pick<Queue, "getJobCounts">> = {};
  new Gauge({
    name: "ragops_queue_jobs",
    help: "Jobs on each queue by state, read from Redis at each scrape.",
    labelNames: ["queue", "state"],
    registers,
    // Every process reads the same counts from Redis: aggregated across `serve --processes`, one of them, not their sum.
    aggregator: "first",
    async collect() {
      this.reset();
      await Promise.all(
        Object.entries(watched).map(async ([name, queue]) => {
          const counts = await queue.getJobCounts(...QUEUE_STATES);
          for (const state of QUEUE_STATES) this.set({ queue: name, state }, counts[state] ?? 0);
        }),
      );
    },
  });
  return {
    registry,
    httpRequests: new Histogram({ name: "ragops_http_request_duration_seconds", help: "HTTP requests by route (the route policy's path pattern) and status, seconds.", labelNames: ["method", "route", "status"], registers }),
    httpErrors: new Counter({ name: "ragops_http_errors_total", help: "HTTP requests answered with an error, by error code (unauthorized, forbidden, too_many_requests, request_timeout, ...).", labelNames: ["code"], registers }),
    connectionsDropped: new Counter({ name: "ragops_http_connections_dropped_total", help: "Connections closed at once because http.maxConnections were open.", registers }),
    searchDuration: new Histogram({
      name: "ragops_search_duration_seconds",
      help: "Search latency by the index version that answered and the retrieval mode, seconds.",
      labelNames: ["version", "mode"],
      buckets: [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    }),
    aliasChanges: new Counter({ name: "ragops_alias_changes_total", help: "Changes of the live alias and of versions made through this control plane: swap, rollback, retire.", labelNames: ["action"], registers }),
    evaluations: new Counter({ name: "ragops_evaluations_total", help: "Evaluations finished by this worker, by outcome: passed, failed (the gate), ungated, error.", labelNames: ["outcome"], registers }),
    jobDuration: new Histogram({
      name: "ragops_job_duration_seconds",
      help: "Time jobs of this worker ran, by queue, job name and outcome (completed, failed), seconds.",
      labelNames: ["queue", "name", "outcome"],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600],
      registers,
    }),
    jobFailures: new Counter({ name: "ragops_job_failures_total", help: "Failed job attempts of this worker, by queue, job name and reason (the error code).", labelNames: ["queue", "name", "reason"], registers }),
    chunksEmbedded: new Counter({ name: "ragops_chunks_embedded_total", help: "Chunk texts sent to the embedder by this worker's jobs.", labelNames: ["queue"], registers }),
    embeddingCacheHits: new Counter({ name: "ragops_embedding_cache_hits_total", help: "Chunks whose vector came from the embedding cache instead of the embedder.", labelNames: ["queue"], registers }),
    indexWrites: new Counter({ name: "ragops_index_writes_total", help: "Index datapoints written by this worker's jobs, by kind: upsert (new vectors), metadata, remove.", labelNames: ["queue", "kind"], registers }),
    watchQueues(queues) {
      Object.assign(watched, queues);
    },
  };
}

/** Why a job attempt failed, as a bounded label: our error code, BullMQ's unrecoverable marker, or "error". */
export function failureReason(error: unknown): string {
  if (isRagopsError(error)) return error.code;
  const name = error instanceof Error ? error.name : "";
  if (name === "UnrecoverableError") return "unrecoverable";
  if (name === "DelayedError" || name === "WaitingChildrenError") return "delayed";
  return "error";
}

const count = (value: unknown): number => (typeof value === "number" && Number.isFinite(value) && value > 0 ? value : 0);

/** Records what a worker's jobs did: durations, failures, and the counts their results carry (SyncCounts, BuildResult, evaluations). */
export function observeWorker(metrics: Metrics, queue: string, worker: Pick<Worker, "on">): void {
  const seconds = (job: Job) => (job.processedOn ? Math.max(0, Date.now() - job.processedOn) / 1000 : 0);
  worker.on("completed", (job: Job, result: unknown) => {
    metrics.jobDuration.observe({ queue, name: job.name, outcome: "completed" }, seconds(job));
    const counts = (typeof result === "object" && result !== null ? result : {}) as Record<string, unknown>;
    metrics.chunksEmbedded.inc({ queue }, count(counts.embedded));
    metrics.embeddingCacheHits.inc({ queue }, count(counts.cacheHits));
    metrics.indexWrites.inc({ queue, kind: "upsert" }, count(counts.indexWrites));
    metrics.indexWrites.inc({ queue, kind: "metadata" }, count(counts.metadataWrites));
    metrics.indexWrites.inc({ queue, kind: "remove" }, count(counts.indexRemovals));
    if (job.name === "build") metrics.indexWrites.inc({ queue, kind: "upsert" }, count(counts.datapoints));
    if (job.name === "evaluate") metrics.evaluations.inc({ outcome: typeof counts.passed === "boolean" ? (counts.passed ? "passed" : "failed") : "ungated" });
  });
  worker.on("failed", (job: Job | undefined, error: Error) => {
    const name = job?.name ?? "unknown";
    if (job) metrics.jobDuration.observe({ queue, name, outcome: "failed" }, seconds(job));
    metrics.jobFailures.inc({ queue, name, reason: failureReason(error) });
    if (name === "evaluate") metrics.evaluations.inc({ outcome: "error" });
  });
}
