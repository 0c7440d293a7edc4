import type { Queue } from "bullmq";
import express, { type Router } from "express";
import { z } from "zod";
import { versionNameSchema } from "../../config/schema.js";
import { getVersion } from "../../indexer/lifecycle/versions.js";
import { enqueueReconcile } from "../queues/lifecycle-queue.js";
import type { Runtime } from "../runtime.js";
import { parseBody } from "./errors.js";
import { route, strictRouter } from "./route.js";

/**
 * POST /v1/reconcile: a reconcile (indexer/reconcile/) as a job on the
 * lifecycle queue, dry run included. A check reads every manifest, the whole
 * registry and every index's ids under each profile's corpus lease: seconds
 * for a small corpus, minutes for a large one, with ingests waiting on the
 * lease meanwhile. That is a worker's work, one at a time on the queue that
 * already runs builds and evaluations one at a time, not a request's; the
 * answer links the job, whose result holds the findings.
 */
const reconcileSchema = z.strictObject({
  version: versionNameSchema.optional(),
  repair: z.boolean().optional(),
  /** The repair's plan without a change: each finding with what a repair would do. Wins over `repair`. */
  dryRun: z.boolean().optional(),
});

export function reconcileRoutes(runtime: Pick<Runtime, "store">, lifecycleQueue: Queue): Router {
  const router = strictRouter();
  router.post(
    "/v1/reconcile",
    express.json({ limit: "16kb" }),
    route(async (req, res) => {
      const body = parseBody(reconcileSchema, req.body ?? {});
      if (body.version) await getVersion(runtime.store, body.version); // a typo is a 404 now, not a failed job later
      const repair = body.repair === true && body.dryRun !== true;
      const jobId = await enqueueReconcile(lifecycleQueue, { ...(body.version ? { version: body.version } : {}), repair, actor: String(res.locals.actor ?? "anonymous") });
      res.status(202).json({ jobId, ...(body.version ? { version: body.version } : {}), repair, dryRun: body.dryRun === true, links: { job: `/v1/jobs/${jobId}` } });
    }),
  );
  return router;
}
