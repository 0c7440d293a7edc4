import express, { type Express } from "express";
import { NotFoundError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import type { Config } from "../../config/schema.js";
import type { Runtime } from "../runtime.js";
import { metricsFor } from "../metrics.js";
import { createRefreshQueue } from "../queues/refresh-queue.js";
import { accessMiddleware, sameSiteGuard } from "./auth.js";
import { BULL_BOARD_PATH, bullBoardRouter } from "./admin-routes.js";
import { documentRoutes } from "./document-routes.js";
import { errorMiddleware } from "./errors.js";
import { evaluationRoutes } from "./evaluation-routes.js";
import { failureRoutes } from "./failure-routes.js";
import { goldenRoutes } from "./golden-routes.js";
import { jobRoutes } from "./job-routes.js";
import { lifecycleRoutes } from "./lifecycle-routes.js";
import { metricsRoutes, requestMetrics } from "./metrics-routes.js";
import { probeRoutes } from "./probe-routes.js";
import { reconcileRoutes } from "./reconcile-routes.js";
import { requestIdMiddleware } from "./request-id.js";
import { createRateLimits } from "./rate-limits.js";
import { searchRoutes } from "./search-routes.js";
import { loadApiTokens, type ApiToken } from "./tokens.js";

/**
 * The control plane's HTTP app, in the order a request meets it: request id,
 * metrics, host/origin guard, auth, roles and rate limits (route-policy.ts),
 * the routes, 404, the one error middleware. `app.locals.closeLifecycle`
 * closes the queues the routes opened.
 */
export function createApp(runtime: Runtime): Express {
  const { config, logger } = runtime;
  const tokens = loadApiTokens(config.auth);
  warnAboutPlainTokens(tokens, logger);
  const metrics = metricsFor(runtime);
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // One spelling per route: /V1/... or /v1/.../ match nothing rather than a route by another name.
  app.set("case sensitive routing", true);
  app.set("strict routing", true);
  // The client's address for per-address limits and logs: from X-Forwarded-For only when a proxy in front is trusted.
  if (config.http.trustProxy !== false) app.set("trust proxy", config.http.trustProxy);

  app.use(requestIdMiddleware());
  // Draining before shutdown (server.ts): a kept-alive client reconnects, and its balancer picks another process.
  app.use((req, res, next) => {
    if (req.app.locals.draining === true) res.setHeader("connection", "close");
    next();
  });
  app.use(requestMetrics(metrics));
  app.use(sameSiteGuard({ tokens, configuredHost: config.http.host, allowedHosts: config.http.allowedHosts }));
  app.use(accessMiddleware({ tokens, limits: createRateLimits(runtime.redis, config), config, logger }));
  warnIfOpenBeyondLoopback(config, tokens, logger);

  const lifecycle = lifecycleRoutes(runtime);
  const refreshQueue = createRefreshQueue(config);
  metrics.watchQueues({ ingest: runtime.queue, lifecycle: lifecycle.queue, refresh: refreshQueue });
  app.use(documentRoutes(runtime));
  app.use(jobRoutes(runtime, lifecycle.queue));
  app.use(searchRoutes(runtime));
  app.use(lifecycle.router);
  app.use(goldenRoutes(runtime));
  app.use(evaluationRoutes(runtime, lifecycle.queue));
  app.use(reconcileRoutes(runtime, lifecycle.queue));
  app.locals.closeLifecycle = async () => {
    await lifecycle.close();
    await refreshQueue.close();
  };
  app.use(probeRoutes(runtime));
  app.use(metricsRoutes(metrics));
  app.use(BULL_BOARD_PATH, bullBoardRouter([runtime.queue, lifecycle.queue, refreshQueue]));
  app.use(failureRoutes(runtime, lifecycle.queue));

  app.use((req, _res, next) => next(new NotFoundError(`no route ${req.method} ${req.path}`)));
  app.use(errorMiddleware(logger));
  return app;
}

const LOOPBACK = ["127.0.0.1", "localhost", "::1"];

function warnIfOpenBeyondLoopback(config: Config, tokens: readonly ApiToken[], logger: Logger): void {
  if (tokens.length === 0 && !LOOPBACK.includes(config.http.host)) {
    logger.warn({ host: config.http.host }, "no API tokens configured (auth.tokens, auth.tokensFile / RAGOPS_API_TOKENS) and listening beyond loopback: the API is open to anyone who can reach it");
  }
}

function warnAboutPlainTokens(tokens: readonly ApiToken[], logger: Logger): void {
  const plain = tokens.filter((t) => t.plain).map((t) => t.name);
  if (plain.length) {
    logger.warn({ tokens: plain }, "API tokens configured in plain text are deprecated and hold every role: make hashed ones with roles (`ragops token create --name <name> --roles reader,content,operator`) and put the printed entries in auth.tokens or auth.tokensFile");
  }
}
