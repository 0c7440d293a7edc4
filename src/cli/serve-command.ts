import type { Command } from "commander";
import { startServer } from "../http/server.js";
import { openRuntime } from "../runtime.js";
import { configFrom, onShutdown, positiveInt } from "./common.js";

/** `ragops serve`: the HTTP control plane, until SIGTERM or SIGINT. */
export function addServeCommand(program: Command): void {
  program
    .command("serve")
    .description("Run the HTTP control plane (upload, status, search). Does not process jobs: run `ragops worker` too.")
    .option("-p, --port <port>", "port to listen on (default 8080, or $PORT)", positiveInt)
    .option("--host <host>", "interface to listen on (default 127.0.0.1, or $RAGOPS_HOST)")
    .action(async (options: { port?: number; host?: string }, command: Command) => {
      const config = configFrom(command, { http: { ...(options.port ? { port: options.port } : {}), ...(options.host ? { host: options.host } : {}) } });
      const runtime = await openRuntime(config);
      const server = await startServer(runtime);
      console.error(`ragops: control plane on ${server.url} (index ${config.index.version}, data ${config.dataDir})`);
      onShutdown(async (signal) => {
        runtime.logger.info({ signal }, "shutting down the control plane");
        await server.close();
        await runtime.close();
      });
    });
}
