import type { Queue } from "bullmq";
import { Router, type NextFunction, type Request, type Response } from "express";
import express from "express";
import { z } from "zod";
import { readAlias, rollbackLive, swapLive } from "../../indexer/lifecycle/alias.js";
import { appendAudit, listAudit } from "../../indexer/lifecycle/audit.js";
import { createVersion, effectiveState, getVersion, indexVersionConfigSchema, listVersions, moveVersion, patchVersion, versionNameSchema } from "../../indexer/lifecycle/versions.js";
import { ConflictError } from "../errors.js";
import { createLifecycleQueue, enqueueBuild } from "../queues/lifecycle-queue.js";
import type { Runtime } from "../runtime.js";
import { parseBody } from "./errors.js";

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

type Handler = (req: Request, res: Response) => Promise<void>;
const route = (handler: Handler) => (req: Request, res: Response, next: NextFunction) => handler(req, res).catch(next);

/** Who acts: the caller's name (x-ragops-actor) until API tokens exist. */
function actorOf(req: Request): string {
  const header = req.headers["x-ragops-actor"];
  return typeof header === "string" && /^[\w.@:-]{1,64}$/.test(header) ? header : "anonymous";
}

export function lifecycleRoutes(runtime: Runtime): { router: Router; queue: Queue; close(): Promise<void> } {
  const { store } = runtime;
  const queue = createLifecycleQueue(runtime.config);
  const router = Router();
  const json = express.json({ limit: "64kb" });

  router.post(
    "/v1/indexes",
    json,
    route(async (req, res) => {
      const body = parseBody(createSchema, req.body ?? {});
      const version = body.version ?? `v${(await listVersions(store)).length + 1}`;
      const actor = actorOf(req);
      await createVersion(store, { version, config: body.config ?? {}, actor });
      await appendAudit(store, { actor, action: "create", version });
      const jobId = await enqueueBuild(queue, version);
      const record = await patchVersion(store, version, { buildJobId: jobId });
      res.status(202).json({ ...record, links: { job: `/v1/jobs/${jobId}`, index: `/v1/indexes/${version}` } });
    }),
  );

  router.get(
    "/v1/indexes",
    route(async (_req, res) => {
      const { alias } = await readAlias(store);
      res.json({ alias, versions: (await listVersions(store)).map((v) => ({ ...v, state: effectiveState(v, alias) })) });
    }),
  );

  router.get(
    "/v1/indexes/:version",
    route(async (req, res) => {
      const { alias } = await readAlias(store);
      const record = await getVersion(store, String(req.params.version));
      res.json({ ...record, state: effectiveState(record, alias) });
    }),
  );

  router.post(
    "/v1/indexes/:version/retire",
    json,
    route(async (req, res) => {
      const version = String(req.params.version);
      const body = parseBody(retireSchema, req.body ?? {});
      const { alias } = await readAlias(store);
      if (alias.live === version || alias.previous === version) {
        throw new ConflictError(`index version ${version} is ${alias.live === version ? "live" : "previous"}; swap or roll back first`, { alias });
      }
      const record = await moveVersion(store, version, "retired");
      await runtime.catalog.destroy(version);
      await appendAudit(store, { actor: actorOf(req), action: "retire", version, reason: body.reason });
      res.json(record);
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
      const body = parseBody(swapSchema, req.body);
      const target = await getVersion(store, body.to);
      const admitted = target.state === "evaluated" || (body.force === true && (target.state === "ready" || target.state === "failed"));
      if (!admitted) {
        const hint = target.state === "ready" ? "it has no passing evaluation; evaluate it, or pass force: true (recorded in the audit log)" : `it is ${target.state}`;
        throw new ConflictError(`index version ${body.to} cannot be made live: ${hint}`, { state: target.state });
      }
      const change = await swapLive(store, { to: body.to, expectedVersion: body.expectedVersion, actor: actorOf(req) });
      await appendAudit(store, { actor: actorOf(req), action: target.state === "evaluated" ? "swap" : "forced-promotion", from: change.from, to: change.to, reportId: target.reportId, reason: body.reason });
      res.json(change.alias);
    }),
  );

  router.post(
    "/v1/aliases/live/rollback",
    json,
    route(async (req, res) => {
      const body = parseBody(rollbackSchema, req.body ?? {});
      const change = await rollbackLive(store, { actor: actorOf(req), ...(body.expectedVersion !== undefined ? { expectedVersion: body.expectedVersion } : {}) });
      await appendAudit(store, { actor: actorOf(req), action: "rollback", from: change.from, to: change.to, reason: body.reason });
      res.json(change.alias);
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
