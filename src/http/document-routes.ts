import { randomUUID } from "node:crypto";
import type { Request, Response, Router } from "express";
import { errorMessage, isRagopsError } from "../../core/errors.js";
import { registryPrefix } from "../../indexer/sync/profile.js";
import { createChunkRegistry } from "../../indexer/sync/registry.js";
import { deleteDocument, getDocument, getDocumentChunks, parseDocumentId, submitDocument, type SubmitRequest } from "../documents/service.js";
import type { Runtime } from "../runtime.js";
import { route, strictRouter } from "./route.js";
import { checkUploadField, parseUploadFields } from "./upload-fields.js";
import { drainRefusedUpload, receiveUpload } from "./upload.js";

const POST_FIELDS = ["id", "title", "tags", "source", "date"] as const;
const PUT_FIELDS = ["title", "tags", "source", "date"] as const;

/** Documents: upload (POST, PUT), read, read chunks, delete. */
export function documentRoutes(runtime: Runtime): Router {
  const { config, store, queue } = runtime;
  const router = strictRouter();
  const upload = uploadHandler(runtime);

  router.post("/v1/documents", route((req, res) => upload(req, res, "create")));
  router.put(
    "/v1/documents/:id",
    route((req, res) => upload(req, res, "upsert", parseDocumentId(String(req.params.id)))),
  );

  router.get(
    "/v1/documents/:id",
    route(async (req, res) => {
      res.json(await getDocument({ store }, String(req.params.id)));
    }),
  );

  router.get(
    "/v1/documents/:id/chunks",
    route(async (req, res) => {
      // As the live version's chunking profile has them.
      const { profile } = (await runtime.catalog.live()).version;
      const registry = createChunkRegistry(runtime.redis, registryPrefix(config.redis.prefix, profile));
      res.json(await getDocumentChunks({ store, registry, profile }, String(req.params.id)));
    }),
  );

  router.delete(
    "/v1/documents/:id",
    route(async (req, res) => {
      const result = await deleteDocument({ config, store, queue }, String(req.params.id));
      res.status(202).json({ ...result, status: "deleting", links: { job: `/v1/jobs/${result.jobId}` } });
    }),
  );

  return router;
}

/**
 * Receives a multipart upload into the store, then submits it: a refused
 * upload is drained so the client reads the error, and an upload stored but
 * not submitted is deleted again.
 */
function uploadHandler(runtime: Runtime) {
  const { config, store, queue, logger } = runtime;
  return async (req: Request, res: Response, mode: SubmitRequest["mode"], pathId?: string): Promise<void> => {
    const allowedFields = pathId ? PUT_FIELDS : POST_FIELDS;
    const notStored = (error: unknown) => logger.info({ requestId: res.locals.requestId, code: isRagopsError(error) ? error.code : "internal", reason: errorMessage(error) }, "upload not stored");
    let received;
    try {
      received = await receiveUpload(req, {
        store,
        maxBytes: config.http.maxUploadBytes,
        allowedFields,
        checkField: checkUploadField,
        minBytesPerSecond: config.http.minUploadBytesPerSecond,
        rateWindowMs: config.http.uploadRateWindowMs,
      });
    } catch (error) {
      notStored(error);
      drainRefusedUpload(req, res, undefined, error);
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
}
