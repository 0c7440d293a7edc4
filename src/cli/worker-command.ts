import type { Command } from "commander";
import { openRuntime } from "../runtime.js";
import { startWorkers } from "../worker/worker.js";
import { configFrom, onShutdown, positiveInt } from "./common.js";

/** `ragops worker`: the ingest, refresh and build workers, until SIGTERM or SIGINT. */
export function addWorkerCommand(program: Command): void {
  program
    .command("worker")
    .description("Run an ingest worker: parse, chunk, embed and index queued documents.")
    .option("--concurrency <n>", "jobs run at once (default 2, or $RAGOPS_QUEUE_CONCURRENCY)", positiveInt)
    .action(async (options: { concurrency?: number }, command: Command) => {
      const config = configFrom(command, options.concurrency ? { queue: { concurrency: options.concurrency } } : {});
      const runtime = await openRuntime(config);
      const workers = await startWorkers(runtime);
      console.error(`ragops: worker running (concurrency ${config.queue.concurrency}, index ${config.index.version})`);
      onShutdown(async (signal) => {
        runtime.logger.info({ signal }, "shutting down the worker; finishing running jobs");
        await workers.close();
        await runtime.close();
      });
    });
}
