import { availableParallelism } from "node:os";
import type { Command } from "commander";
import { isClusterWorker, reportListening, runClusterPrimary } from "../http/cluster.js";
import { startServer } from "../http/server.js";
import { openRuntime } from "../runtime.js";
import { configFrom, nonNegativeInt, onShutdown, positiveInt } from "./common.js";

/** `ragops serve`: the HTTP control plane, until SIGTERM or SIGINT. */
export function addServeCommand(program: Command): void {
  program
    .command("serve")
    .description("Run the HTTP control plane (upload, status, search). Does not process jobs: run `ragops worker` too.")
    .option("-p, --port <port>", "port to listen on (default 8080, or $PORT)", positiveInt)
    .option("--host <host>", "interface to listen on (default 127.0.0.1, or $RAGOPS_HOST)")
    .option("--processes <n>", "processes sharing the port, to search on more cores (default 1, or http.processes; 0: one per core)", nonNegativeInt)
    .action(async (options: { port?: number; host?: string; processes?: number }, command: Command) => {
      const config = configFrom(command, {
        http: { ...(options.port ? { port: options.port } : {}), ...(options.host ? { host: options.host } : {}), ...(options.processes !== undefined ? { processes: options.processes } : {}) },
      });
      const processes = config.http.processes === 0 ? availableParallelism() : config.http.processes;
      if (processes > 1 && !isClusterWorker()) {
        const code = await runClusterPrimary({
          processes,
          onReady: (url) => console.error(`ragops: control plane on ${url} (${processes} processes, index ${config.index.version}, data ${config.dataDir})`),
          log: (message) => console.error(`ragops: ${message}`),
        });
        process.exit(code);
      }
      const runtime = await openRuntime(config);
      const server = await startServer(runtime);
      if (isClusterWorker()) reportListening(server.url);
      else console.error(`ragops: control plane on ${server.url} (index ${config.index.version}, data ${config.dataDir})`);
      // A serving process of a cluster may get a signal twice (the terminal's SIGINT and the primary's SIGTERM): the second must not cut its shutdown short.
      onShutdown(async (signal) => {
        runtime.logger.info({ signal }, "shutting down the control plane");
        await server.close();
        await runtime.close();
      }, { forceOnSecondSignal: !isClusterWorker() });
    });
}
