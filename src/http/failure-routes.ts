import express, { type Router } from "express";
import type { Queue } from "bullmq";
import { z } from "zod";
import { InvalidRequestError } from "../../core/errors.js";
import { FAILURE_KINDS, listFailures, type FailureEntry, type FailureKind } from "../failures/ledger.js";
import { retryFailures } from "../failures/retry.js";
import type { Runtime } from "../runtime.js";
import { parseBody } from "./errors.js";
import { route, strictRouter } from "./route.js";

const retrySchema = z
  .strictObject({ all: z.literal(true).optional(), ids: z.array(z.string().min(1).max(300)).min(1).max(1_000).optional() })
  .refine((body) => (body.all === true) !== (body.ids !== undefined), { message: 'give either "all": true or "ids": [failure ids from GET /v1/failures], not both' });

/** What the content role may retry: its own documents' ingests and deletes; index work is the operator's. */
const CONTENT_KINDS: readonly FailureKind[] = ["ingest", "delete"];

/**
 * GET /v1/failures[?kind=ingest|delete|build|evaluate|retire]: the failure
 * ledger, most recently seen first. POST /v1/failures/retry `{ "all": true }`
 * or `{ "ids": [...] }`: queues again what failed, and only that, as
 * `ragops failures retry` does; each id's outcome (the job queued, or why not).
 */
export function failureRoutes(runtime: Runtime, lifecycleQueue: Queue): Router {
  const router = strictRouter();
  router.get(
    "/v1/failures",
    route(async (req, res) => {
      const kind = typeof req.query.kind === "string" ? req.query.kind : undefined;
      if (kind !== undefined && !FAILURE_KINDS.includes(kind as FailureKind)) throw new InvalidRequestError(`kind must be one of ${FAILURE_KINDS.join(", ")}`);
      const failures = await listFailures(runtime.store, kind ? { kind: kind as FailureKind } : {});
      res.json({ failures });
    }),
  );
  router.post(
    "/v1/failures/retry",
    express.json({ limit: "64kb" }),
    route(async (req, res) => {
      const body = parseBody(retrySchema, req.body ?? {});
      const which = body.ids ? { ids: body.ids } : { all: true as const };
      const roles = (res.locals.roles ?? []) as readonly string[];
      const refuse = (entry: FailureEntry) =>
        roles.includes("operator") || CONTENT_KINDS.includes(entry.kind) ? undefined : `retrying a failed ${entry.kind} needs the operator role (this token has ${roles.join(", ")})`;
      const deps = { config: runtime.config, store: runtime.store, queue: runtime.queue, lifecycleQueue: () => lifecycleQueue };
      res.json({ outcomes: await retryFailures(deps, which, refuse) });
    }),
  );
  return router;
}
