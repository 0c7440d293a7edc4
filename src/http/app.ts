import express, { type Express } from "express";
import { NotFoundError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { Config } from "../../config/schema.js";
import type { Runtime } from "../runtime.js";
import { authMiddleware, sameSiteGuard } from "./auth.js";
import { documentRoutes } from "./document-routes.js";
import { errorMiddleware } from "./errors.js";
import { evaluationRoutes } from "./evaluation-routes.js";
import { failureRoutes } from "./failure-routes.js";
import { goldenRoutes } from "./golden-routes.js";
import { jobRoutes } from "./job-routes.js";
import { lifecycleRoutes } from "./lifecycle-routes.js";
import { probeRoutes } from "./probe-routes.js";
import { requestIdMiddleware } from "./request-id.js";
import { searchRoutes } from "./search-routes.js";

/**
 * The control plane's HTTP app, in the order a request meets it: request id,
 * host/origin guard and auth, the routes, 404, the one error middleware.
 * `app.locals.closeLifecycle` closes the lifecycle queue the routes opened.
 */
export function createApp(runtime: Runtime): Express {
  const { config, logger } = runtime;
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // One spelling per route: /V1/... or /v1/.../ match nothing rather than a route by another name.
  app.set("case sensitive routing", true);
  app.set("strict routing", true);

  app.use(requestIdMiddleware());
  app.use(sameSiteGuard({ tokens: config.auth.tokens, configuredHost: config.http.host, allowedHosts: config.http.allowedHosts }));
  app.use(authMiddleware(config.auth.tokens));
  warnIfOpenBeyondLoopback(config, logger);

  const lifecycle = lifecycleRoutes(runtime);
  app.use(documentRoutes(runtime));
  app.use(jobRoutes(runtime, lifecycle.queue));
  app.use(searchRoutes(runtime));
  app.use(lifecycle.router);
  app.use(goldenRoutes(runtime));
  app.use(evaluationRoutes(runtime, lifecycle.queue));
  app.locals.closeLifecycle = lifecycle.close;
  app.use(probeRoutes(runtime));
  app.use(failureRoutes(runtime));

  app.use((req, _res, next) => next(new NotFoundError(`no route ${req.method} ${req.path}`)));
  app.use(errorMiddleware(logger));
  return app;
}

const LOOPBACK = ["127.0.0.1", "localhost", "::1"];

function warnIfOpenBeyondLoopback(config: Config, logger: Logger): void {
  if (Object.keys(config.auth.tokens).length === 0 && !LOOPBACK.includes(config.http.host)) {
    logger.warn({ host: config.http.host }, "no API tokens configured (auth.tokens / RAGOPS_API_TOKENS) and listening beyond loopback: the API is open to anyone who can reach it");
  }
}
