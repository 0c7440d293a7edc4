import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { metricsFor } from "../metrics.js";
import type { Runtime } from "../runtime.js";
import { createApp } from "./app.js";

export interface RunningServer {
  server: Server;
  url: string;
  /**
   * Drains for http.shutdownDrainMs (still serving, /readyz 503, every
   * response closing its connection), then stops accepting, lets in-flight
   * requests finish for up to graceMs and closes what is left. A second call
   * ends the drain at once and shares the first's close.
   */
  close(graceMs?: number): Promise<void>;
}

export async function startServer(runtime: Runtime, options: { host?: string; port?: number } = {}): Promise<RunningServer> {
  const { config, logger } = runtime;
  const app = createApp(runtime);
  const host = options.host ?? config.http.host;
  const server = await new Promise<Server>((resolve, reject) => {
    const listening = app.listen(options.port ?? config.http.port, host, (error?: Error) => (error ? reject(error) : resolve(listening)));
  });
  server.requestTimeout = 15 * 60_000; // large uploads on slow links
  // Past the cap Node closes a new connection at once, before any byte of a request is read.
  server.maxConnections = config.http.maxConnections;
  let dropWarned = false;
  server.on("drop", (dropped?: { remoteAddress?: string }) => {
    metricsFor(runtime).connectionsDropped.inc();
    if (!dropWarned) logger.warn({ maxConnections: config.http.maxConnections, remoteAddress: dropped?.remoteAddress }, "connection refused: http.maxConnections are open (logged once; ragops_http_connections_dropped_total counts them)");
    dropWarned = true;
  });
  let closing: Promise<void> | undefined;
  const endDrain = new AbortController();
  const drain = async (ms: number, ended: AbortSignal) => {
    if (ms <= 0) return;
    app.locals.draining = true;
    logger.info({ drainMs: ms }, "draining: GET /readyz answers 503 and responses close their connections until the server stops accepting");
    await sleep(ms, undefined, { signal: ended }).catch(() => undefined);
  };
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  logger.info({ url }, "control plane listening");
  return {
    server,
    url,
    close: (graceMs = config.http.shutdownGraceMs) => {
      if (closing) {
        endDrain.abort();
        return closing;
      }
      closing = (async () => {
        await drain(config.http.shutdownDrainMs, endDrain.signal);
        const closed = new Promise<void>((resolve) => server.close(() => resolve()));
        server.closeIdleConnections();
        const timer = setTimeout(() => server.closeAllConnections(), graceMs);
        await closed;
        clearTimeout(timer);
        await (app.locals.closeLifecycle as (() => Promise<void>) | undefined)?.();
      })();
      return closing;
    },
  };
}
