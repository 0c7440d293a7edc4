import type { RequestHandler, Router } from "express";
import type { Metrics } from "../metrics.js";
import { clusterMetricsText, isClusterWorker, shareMetricsWithPrimary } from "./cluster.js";
import { route, strictRouter } from "./route.js";

/** GET /metrics: Prometheus text format (operator role, see route-policy.ts); under `serve --processes`, the sum over every process. */
export function metricsRoutes(metrics: Metrics): Router {
  const router = strictRouter();
  const clustered = isClusterWorker();
  if (clustered) shareMetricsWithPrimary(metrics.registry);
  router.get(
    "/metrics",
    route(async (_req, res) => {
      res.set("content-type", metrics.registry.contentType).send(clustered ? await clusterMetricsText() : await metrics.registry.metrics());
    }),
  );
  return router;
}

/** Times every request by its policy's path pattern (bounded labels), and counts error answers by code (set by sendError). */
export function requestMetrics(metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const end = metrics.httpRequests.startTimer();
    res.once("finish", () => {
      end({ method: req.method, route: typeof res.locals.route === "string" ? res.locals.route : "unmatched", status: String(res.statusCode) });
      if (typeof res.locals.errorCode === "string") metrics.httpErrors.inc({ code: res.locals.errorCode });
    });
    next();
  };
}
