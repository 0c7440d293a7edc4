import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { metricsFor } from "../metrics.js";
import type { Runtime } from "../runtime.js";
import { createApp } from "./app.js";

export interface RunningServer {
  server: Server;
  url: string;
  /** Stops accepting, lets in-flight requests finish for up to graceMs, then closes what is left. */
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
  const { port } = server.address() as AddressInfo;
  const url = `http://${host.includes(":") ? `[${host}]` : host}:${port}`;
  logger.info({ url }, "control plane listening");
  return {
    server,
    url,
    close: async (graceMs = config.http.shutdownGraceMs) => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = setTimeout(() => server.closeAllConnections(), graceMs);
      await closed;
      clearTimeout(timer);
      await (app.locals.closeLifecycle as (() => Promise<void>) | undefined)?.();
    },
  };
}
