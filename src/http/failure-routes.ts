import type { Router } from "express";
import { InvalidRequestError } from "../../core/errors.js";
import { FAILURE_KINDS, listFailures, type FailureKind } from "../failures/ledger.js";
import type { Runtime } from "../runtime.js";
import { route, strictRouter } from "./route.js";

/** GET /v1/failures[?kind=ingest|delete|build|evaluate|retire]: the failure ledger, most recently seen first. */
export function failureRoutes(runtime: Runtime): Router {
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
  return router;
}
