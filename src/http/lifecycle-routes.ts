import type { Queue } from "bullmq";
import express, { type Request, type Response, type Router } from "express";
import { z } from "zod";
import { readAlias } from "../../indexer/lifecycle/alias.js";
import { listAudit } from "../../indexer/lifecycle/audit.js";
import { versionNameSchema } from "../../config/schema.js";
import { indexVersionConfigSchema } from "../../indexer/lifecycle/versions.js";
import { createAndBuild, retire, rollback, showVersion, showVersions, swap } from "../../indexer/lifecycle/operations.js";
import { createLifecycleQueue, enqueueBuild, enqueueRebuild, enqueueRetire } from "../queues/lifecycle-queue.js";
import { createWithinVersionCaps } from "../lifecycle-caps.js";
import { metricsFor } from "../metrics.js";
import { rebuildRefusal } from "../../indexer/lifecycle/vertex-rebuild.js";
import { getVersion } from "../../indexer/lifecycle/versions.js";
import type { Runtime } from "../runtime.js";
import { profileDefaults } from "../../indexer/lifecycle/operations.js";
import { InvalidRequestError } from "../../core/errors.js";
import { parseBody } from "./errors.js";
import { route, strictRouter } from "./route.js";

/**
 * Index lifecycle over HTTP: create and build versions, swap and roll back the
 * live alias by compare-and-swap, retire, read the audit log.
 */
const createSchema = z.strictObject({ version: versionNameSchema.optional(), config: indexVersionConfigSchema.optional() });
const swapSchema = z.strictObject({
  to: versionNameSchema,
  expectedVersion: versionNameSchema.nullable(),
  /** Make a version live that has no passing evaluation; the audit log records it. */
  force: z.boolean().optional(),
  reason: z.string().max(500).optional(),
});
const rollbackSchema = z.strictObject({ expectedVersion: versionNameSchema.nullable().optional(), reason: z.string().max(500).optional() });
const retireSchema = z.strictObject({ reason: z.string().max(500).optional() });
const rebuildSchema = z.strictObject({});

/** The :version of the path, a valid version name, or a 400 that says what one is. */
function versionParam(req: Request): string {
  const value = String(req.params.version);
  const parsed = versionNameSchema.safeParse(value);
  if (!parsed.success) throw new InvalidRequestError(`invalid index version ${JSON.stringify(value)}: ${parsed.error.issues[0]?.message ?? "not a version name"}`);
  return parsed.data;
}

/** Who acts: the API token's name (see auth.ts), or what an open API's caller calls itself. */
function actorOf(_req: Request, res: Response): string {
  return String(res.locals.actor ?? "anonymous");
}

export function lifecycleRoutes(runtime: Runtime): { router: Router; queue: Queue; close(): Promise<void> } {
  const { store } = runtime;
  const queue = createLifecycleQueue(runtime.config);
  const deps = { store, catalog: runtime.catalog, startBuild: (version: string, jobId: string) => enqueueBuild(queue, version, jobId), startRetire: (version: string) => enqueueRetire(queue, version), maxTopK: runtime.config.index.maxTopK, defaultIndexProvider: runtime.config.index.provider, ...profileDefaults(runtime.config) };
  const router = strictRouter();
  const json = express.json({ limit: "64kb" });
  const { aliasChanges } = metricsFor(runtime);

  router.post(
    "/v1/indexes",
    json,
    route(async (req, res) => {
      const body = parseBody(createSchema, req.body ?? {});
      const caps = { store, lifecycleQueue: queue, redis: runtime.redis, redisPrefix: runtime.config.redis.prefix };
      const record = await createWithinVersionCaps(caps, runtime.config.limits, () => createAndBuild(deps, { ...body, actor: actorOf(req, res) }));
      res.status(202).json({ ...record, links: { job: `/v1/jobs/${record.buildJobId}`, index: `/v1/indexes/${record.version}` } });
    }),
  );

  router.get(
    "/v1/indexes",
    route(async (_req, res) => {
      res.json(await showVersions(deps));
    }),
  );

  router.get(
    "/v1/indexes/:version",
    route(async (req, res) => {
      res.json(await showVersion(deps, versionParam(req)));
    }),
  );

  router.post(
    "/v1/indexes/:version/rebuild",
    json,
    route(async (req, res) => {
      parseBody(rebuildSchema, req.body ?? {});
      const version = versionParam(req);
      const refusal = rebuildRefusal(await getVersion(store, version), runtime.config);
      if (refusal) throw refusal;
      const rebuildJobId = await enqueueRebuild(queue, version);
      res.status(202).json({ version, rebuildJobId, links: { job: `/v1/jobs/${rebuildJobId}`, index: `/v1/indexes/${version}` } });
    }),
  );

  router.post(
    "/v1/indexes/:version/retire",
    json,
    route(async (req, res) => {
      const body = parseBody(retireSchema, req.body ?? {});
      res.json(await retire(deps, { version: versionParam(req), reason: body.reason, actor: actorOf(req, res) }));
      aliasChanges.inc({ action: "retire" });
    }),
  );

  router.get(
    "/v1/aliases/live",
    route(async (_req, res) => {
      res.json((await readAlias(store)).alias);
    }),
  );

  router.post(
    "/v1/aliases/live/swap",
    json,
    route(async (req, res) => {
      res.json(await swap(deps, { ...parseBody(swapSchema, req.body), actor: actorOf(req, res) }));
      aliasChanges.inc({ action: "swap" });
    }),
  );

  router.post(
    "/v1/aliases/live/rollback",
    json,
    route(async (req, res) => {
      res.json(await rollback(deps, { ...parseBody(rollbackSchema, req.body ?? {}), actor: actorOf(req, res) }));
      aliasChanges.inc({ action: "rollback" });
    }),
  );

  router.get(
    "/v1/audit",
    route(async (req, res) => {
      const limit = Math.min(Math.max(Number(req.query.limit ?? 100) || 100, 1), 1000);
      const after = typeof req.query.after === "string" ? req.query.after : undefined;
      res.json(await listAudit(store, { limit, ...(after ? { after } : {}) }));
    }),
  );

  return { router, queue, close: () => queue.close() };
}
