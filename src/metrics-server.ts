import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Queue } from "bullmq";
import type { Metrics } from "./metrics.js";

export interface MetricsServer {
  url: string;
  close(): Promise<void>;
}

/**
 * A worker's Prometheus endpoint: GET /metrics on its own port (metrics.workerPort),
 * nothing else. It has no tokens: bind it to an interface only the scraper reaches.
 */
export async function startMetricsServer(metrics: Metrics, options: { host: string; port: number; queues?: Record<string, Queue> }): Promise<MetricsServer> {
  if (options.queues) metrics.watchQueues(options.queues);
  const server: Server = createServer((req, res) => {
    if (req.method !== "GET" || req.url !== "/metrics") {
      res.writeHead(404, { "content-type": "text/plain" }).end("only GET /metrics is here\n");
      return;
    }
    metrics.registry.metrics().then(
      (text) => res.writeHead(200, { "content-type": metrics.registry.contentType }).end(text),
      (error: unknown) => res.writeHead(500, { "content-type": "text/plain" }).end(`metrics failed: ${String(error)}\n`),
    );
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${options.host.includes(":") ? `[${options.host}]` : options.host}:${port}/metrics`,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}
