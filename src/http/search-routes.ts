import express, { type Response, type Router } from "express";
import { createAdmission, type Admission } from "../../core/admission.js";
import { TooManyRequestsError } from "../../core/errors.js";
import type { Config } from "../../config/schema.js";
import { metricsFor, type Metrics } from "../metrics.js";
import type { Runtime } from "../runtime.js";
import { search, searchRequestSchema } from "../search.js";
import { parseBody } from "./errors.js";
import { route, strictRouter } from "./route.js";

/** A search refused for load is worth retrying about this soon: one search takes milliseconds, a burst drains in about a second. */
const RETRY_AFTER_SECONDS = 1;

/** POST /v1/search: the live version unless the body names one; at most search.maxInFlight at once, search.maxQueued waiting, 429 beyond. */
export function searchRoutes(runtime: Pick<Runtime, "config" | "catalog" | "redis">, metrics: Pick<Metrics, "searchDuration"> = metricsFor(runtime)): Router {
  const router = strictRouter();
  const admission = searchAdmission(runtime.config);
  router.post(
    "/v1/search",
    express.json({ limit: "256kb" }),
    route(async (req, res) => {
      const request = parseBody(searchRequestSchema, req.body);
      const gone = abortWhenClientLeaves(res);
      try {
        const answer = await admission.run(
          async () => {
            const started = performance.now();
            const result = await search(runtime, request);
            metrics.searchDuration.observe({ version: result.index, mode: result.mode }, (performance.now() - started) / 1000);
            return result;
          },
          { signal: gone.signal },
        );
        sendJson(res, answer);
      } catch (error) {
        // Nobody is left to answer: the search was dropped from the line.
        if (gone.signal.aborted) return;
        throw error;
      } finally {
        gone.dispose();
      }
    }),
  );
  return router;
}

/**
 * The answer as JSON, written straight to the socket: express's res.json
 * would also hash the body for an ETag, which no client of a POST uses (a
 * tenth of a search's CPU went to sending its answer).
 */
function sendJson(res: Response, body: unknown): void {
  res.statusCode = 200;
  res.setHeader("content-type", "application/json; charset=utf-8");
  res.end(JSON.stringify(body));
}

function searchAdmission(config: Config): Admission {
  const { maxInFlight, maxQueued } = config.search;
  return createAdmission(
    { maxInFlight, maxQueued },
    () =>
      new TooManyRequestsError(
        `too many searches at once: ${maxInFlight} running and ${maxQueued} waiting is this process's limit (search.maxInFlight, search.maxQueued); retry after ${RETRY_AFTER_SECONDS} s`,
        RETRY_AFTER_SECONDS,
        { maxInFlight, maxQueued },
      ),
  );
}

/** A signal that aborts when the client closes the connection before its answer was sent. */
function abortWhenClientLeaves(res: Response): { signal: AbortSignal; dispose(): void } {
  const controller = new AbortController();
  const closed = () => {
    if (!res.writableFinished) controller.abort(new Error("the client closed the connection"));
  };
  res.on("close", closed);
  return { signal: controller.signal, dispose: () => res.off("close", closed) };
}
