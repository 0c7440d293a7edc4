import type { Router } from "express";
import { UnavailableError, errorMessage } from "../../core/errors.js";
import type { Runtime } from "../runtime.js";
import { route, strictRouter } from "./route.js";

/** GET /healthz (the process answers) and GET /readyz (it can serve); both public, see auth.ts. */
export function probeRoutes(runtime: Runtime): Router {
  const router = strictRouter();
  router.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });
  router.get(
    "/readyz",
    route(async (req, res) => {
      // Draining before shutdown (server.ts): a balancer should send its requests elsewhere now.
      if (req.app.locals.draining === true) throw new UnavailableError("not ready: shutting down (draining for http.shutdownDrainMs before the server stops accepting)", { details: { draining: true } });
      res.json(await readiness(runtime));
    }),
  );
  return router;
}

/** What readiness needs of the runtime: a Redis to ping and the catalog's live version. */
export interface ReadinessDeps {
  redis: { ping(): Promise<unknown> };
  catalog: { live(): Promise<{ version: { record: { version: string }; index: { count(): Promise<number> } } }> };
}

/**
 * Ready: Redis answers and the version the alias makes live opens (not
 * index.version: a swap moves the alias). Not ready is a 503 that names each
 * failed check, and the live version when the index is the one failing.
 */
export async function readiness(runtime: ReadinessDeps): Promise<{ status: "ready"; live: string | undefined; checks: Record<string, string> }> {
  const checks: Record<string, string> = {};
  let ready = true;
  let live: string | undefined;
  const failed = (check: string) => (error: unknown) => {
    checks[check] = `${check === "index" && live ? `${live}: ` : ""}${errorMessage(error)}`;
    ready = false;
  };
  await Promise.all([
    runtime.redis.ping().then(() => void (checks.redis = "ok"), failed("redis")),
    runtime.catalog
      .live()
      .then(async ({ version }) => {
        live = version.record.version;
        checks.index = `ok (${await version.index.count()} datapoints in ${live})`;
      })
      .catch(failed("index")),
  ]);
  if (!ready) throw new UnavailableError(`not ready: ${Object.entries(checks).map(([k, v]) => `${k}: ${v}`).join("; ")}`, { details: { ...checks, live } });
  return { status: "ready", live, checks };
}
