import { randomUUID } from "node:crypto";
import express, { type Express, type NextFunction, type Request, type Response } from "express";
import { deleteDocument, getDocument, getDocumentChunks, parseDocumentId, submitDocument, type SubmitRequest } from "../documents/service.js";
import { registryPrefix } from "../../indexer/sync/profile.js";
import { createChunkRegistry } from "../../indexer/sync/registry.js";
import { NotFoundError, UnavailableError, errorMessage, isRagopsError } from "../../core/errors.js";
import type { Runtime } from "../runtime.js";
import { search, searchRequestSchema } from "../search.js";
import { errorMiddleware, parseBody } from "./errors.js";
import { authMiddleware, sameSiteGuard } from "./auth.js";
import { lifecycleRoutes } from "./lifecycle-routes.js";
import { checkUploadField, parseUploadFields } from "./upload-fields.js";
import { drainRefusedUpload, receiveUpload } from "./upload.js";

const POST_FIELDS = ["id", "title", "tags", "source", "date"] as const;
const PUT_FIELDS = ["title", "tags", "source", "date"] as const;

type Handler = (req: Request, res: Response) => Promise<void>;
const route = (handler: Handler) => (req: Request, res: Response, next: NextFunction) => handler(req, res).catch(next);

export function createApp(runtime: Runtime): Express {
  const { config, store, queue, logger } = runtime;
  const app = express();
  app.disable("x-powered-by");
  app.set("query parser", "simple");
  // One spelling per route: /V1/... or /v1/.../ match nothing rather than a route by another name.
  app.set("case sensitive routing", true);
  app.set("strict routing", true);

  app.use((req, res, next) => {
    const requestId = typeof req.headers["x-request-id"] === "string" && req.headers["x-request-id"].length <= 128 ? req.headers["x-request-id"] : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader("x-request-id", requestId);
    next();
  });

  app.use(sameSiteGuard({ tokens: config.auth.tokens, configuredHost: config.http.host, allowedHosts: config.http.allowedHosts }));
  app.use(authMiddleware(config.auth.tokens));
  if (Object.keys(config.auth.tokens).length === 0 && !["127.0.0.1", "localhost", "::1"].includes(config.http.host)) {
    logger.warn({ host: config.http.host }, "no API tokens configured (auth.tokens / RAGOPS_API_TOKENS) and listening beyond loopback: the API is open to anyone who can reach it");
  }

  const upload = async (req: Request, res: Response, mode: SubmitRequest["mode"], pathId?: string) => {
    const allowedFields = pathId ? PUT_FIELDS : POST_FIELDS;
    const notStored = (error: unknown) => logger.info({ requestId: res.locals.requestId, code: isRagopsError(error) ? error.code : "internal", reason: errorMessage(error) }, "upload not stored");
    let received;
    try {
      received = await receiveUpload(req, { store, maxBytes: config.http.maxUploadBytes, allowedFields, checkField: checkUploadField });
    } catch (error) {
      notStored(error);
      drainRefusedUpload(req, res);
      throw error;
    }
    try {
      const fields = parseUploadFields(received.fields);
      const result = await submitDocument(
        { config, store, queue },
        {
          documentId: pathId ?? fields.id ?? `doc-${randomUUID()}`,
          mode: pathId ? mode : "create",
          upload: received.upload,
          title: fields.title,
          tags: fields.tags,
          source: fields.source,
          date: fields.date,
        },
      );
      logger.info({ ...result, filename: received.upload.filename, bytes: received.upload.size }, "document accepted");
      res.status(202).json({ ...result, status: "queued", links: { document: `/v1/documents/${result.documentId}`, job: `/v1/jobs/${result.jobId}` } });
    } catch (error) {
      await store.delete(received.upload.key).catch(() => false);
      notStored(error);
      throw error;
    }
  };

  const lifecycle = lifecycleRoutes(runtime);
  const lifecycleQueue = lifecycle.queue;
  app.post("/v1/documents", route((req, res) => upload(req, res, "create")));
  app.put(
    "/v1/documents/:id",
    route((req, res) => upload(req, res, "upsert", parseDocumentId(String(req.params.id)))),
  );

  app.get(
    "/v1/documents/:id",
    route(async (req, res) => {
      res.json(await getDocument({ store }, String(req.params.id)));
    }),
  );

  app.get(
    "/v1/documents/:id/chunks",
    route(async (req, res) => {
      // As the live version's chunking profile has them.
      const { profile } = (await runtime.catalog.live()).version;
      const registry = createChunkRegistry(runtime.redis, registryPrefix(config.redis.prefix, profile));
      res.json(await getDocumentChunks({ store, registry, profile }, String(req.params.id)));
    }),
  );

  app.delete(
    "/v1/documents/:id",
    route(async (req, res) => {
      const result = await deleteDocument({ config, store, queue }, String(req.params.id));
      res.status(202).json({ ...result, status: "deleting", links: { job: `/v1/jobs/${result.jobId}` } });
    }),
  );

  app.get(
    "/v1/jobs/:id",
    route(async (req, res) => {
      const id = String(req.params.id);
      const job = id.startsWith("build-") ? await lifecycleQueue.getJob(id) : await queue.getJob(id);
      if (!job) throw new NotFoundError(`job ${req.params.id} not found (finished jobs are kept for the last ${config.queue.keepCompleted})`);
      const state = await job.getState();
      res.json({
        id: job.id,
        name: job.name,
        state,
        progress: job.progress,
        attemptsMade: job.attemptsMade,
        attempts: job.opts.attempts ?? 1,
        failedReason: job.failedReason || undefined,
        result: job.returnvalue ?? undefined,
        documentId: job.data?.documentId,
        version: job.data?.version,
        createdAt: new Date(job.timestamp).toISOString(),
        startedAt: job.processedOn ? new Date(job.processedOn).toISOString() : undefined,
        finishedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : undefined,
      });
    }),
  );

  app.post(
    "/v1/search",
    express.json({ limit: "256kb" }),
    route(async (req, res) => {
      res.json(await search(runtime, parseBody(searchRequestSchema, req.body)));
    }),
  );

  app.use(lifecycle.router);
  app.locals.closeLifecycle = lifecycle.close;

  app.get("/healthz", (_req, res) => {
    res.json({ status: "ok" });
  });

  app.get(
    "/readyz",
    route(async (_req, res) => {
      // Ready: Redis answers and the version the alias makes live opens (not index.version: a swap moves the alias).
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
      res.json({ status: "ready", live, checks });
    }),
  );

  app.use((req, _res, next) => next(new NotFoundError(`no route ${req.method} ${req.path}`)));
  app.use(errorMiddleware(logger));
  return app;
}
