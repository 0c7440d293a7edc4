import type { Command } from "commander";
import { metricsFor } from "../metrics.js";
import { startMetricsServer } from "../metrics-server.js";
import { createLifecycleQueue } from "../queues/lifecycle-queue.js";
import { createRefreshQueue } from "../queues/refresh-queue.js";
import { openRuntime } from "../runtime.js";
import { startWorkers } from "../worker/worker.js";
import { configFrom, onShutdown, positiveInt } from "./common.js";

/** `ragops worker`: the ingest, refresh and build workers, until SIGTERM or SIGINT. */
export function addWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description("Run an ingest worker: parse, chunk, embed and index queued documents.")
    .option("--concurrency <n>", "jobs run at once (default 2, or $RAGOPS_QUEUE_CONCURRENCY)", positiveInt)
    .option("--strict", "refuse to start when Redis may evict keys (maxmemory-policy other than noeviction) instead of warning (redis.requireNoEviction)")
    .action(async (options: { concurrency?: number; strict?: boolean }, command: Command) => {
      const config = configFrom(command, { ...(options.concurrency ? { queue: { concurrency: options.concurrency } } : {}), ...(options.strict ? { redis: { requireNoEviction: true } } : {}) });
      const runtime = await openRuntime(config);
      const workers = await startWorkers(runtime);
      console.error(`ragops: worker running (concurrency ${config.queue.concurrency}, index ${config.index.version})`);
      const { workerPort, workerHost } = config.metrics;
      const metricsQueues = workerPort === undefined ? undefined : { ingest: runtime.queue, lifecycle: createLifecycleQueue(config), refresh: createRefreshQueue(config) };
      const metricsServer = workerPort === undefined ? undefined : await startMetricsServer(metricsFor(runtime), { host: workerHost, port: workerPort, queues: metricsQueues });
      if (metricsServer) console.error(`ragops: worker metrics on ${metricsServer.url}`);
      onShutdown(async (signal) => {
        runtime.logger.info({ signal }, "shutting down the worker; finishing running jobs");
        await metricsServer?.close();
        await Promise.all([metricsQueues?.lifecycle.close(), metricsQueues?.refresh.close()]);
        await workers.close();
        await runtime.close();
      });
    });
}
