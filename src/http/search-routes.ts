import express, { type Router } from "express";
import type { Runtime } from "../runtime.js";
import { search, searchRequestSchema } from "../search.js";
import { parseBody } from "./errors.js";
import { route, strictRouter } from "./route.js";

/** POST /v1/search: the live version unless the body names one. */
export function searchRoutes(runtime: Runtime): Router {
  const router = strictRouter();
  router.post(
    "/v1/search",
    express.json({ limit: "256kb" }),
    route(async (req, res) => {
      res.json(await search(runtime, parseBody(searchRequestSchema, req.body)));
    }),
  );
  return router;
}
