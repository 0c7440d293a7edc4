import express, { type NextFunction, type Request, type Response, type Router } from "express";
import { InvalidRequestError, RagopsError, UnsupportedMediaTypeError } from "../../core/errors.js";
import { parseGoldenSet } from "../../indexer/evaluation/golden-set.js";
import { getGoldenSetRecord, listGoldenSets, parseGoldenSetName, parseGoldenSetVersion, putGoldenSet, readGoldenSetText } from "../../indexer/evaluation/golden-store.js";
import type { Runtime } from "../runtime.js";
import { route, strictRouter } from "./route.js";

/** Largest golden set accepted in one upload, bytes (about 50,000 questions with contexts). */
export const MAX_GOLDEN_SET_BYTES = 20 * 1024 * 1024;
const TEXT_TYPES = ["application/x-ndjson", "application/jsonl", "application/json-lines", "text/plain"];

/**
 * Golden sets over HTTP: upload a JSONL set as the next version of a name
 * (201, or 200 with the existing version for an identical upload), list the
 * sets, read a set's latest record, read one version's lines.
 */
export function goldenRoutes(runtime: Pick<Runtime, "store">): Router {
  const { store } = runtime;
  const router = strictRouter();

  router.post(
    "/v1/golden-sets",
    jsonlBody(),
    route(async (req, res) => {
      const name = typeof req.query.name === "string" ? parseGoldenSetName(req.query.name) : undefined;
      if (!name) throw new InvalidRequestError("give the golden set a name: POST /v1/golden-sets?name=<name> with the JSONL as the body");
      if (typeof req.body !== "string") throw new UnsupportedMediaTypeError(`send the golden set as JSON Lines with Content-Type ${TEXT_TYPES.slice(0, 1).concat("text/plain").join(" or ")}`);
      const { record, created } = await putGoldenSet(store, name, parseGoldenSet(req.body));
      res.status(created ? 201 : 200).json({ ...record, created, links: { self: `/v1/golden-sets/${name}/versions/${record.version}` } });
    }),
  );

  router.get(
    "/v1/golden-sets",
    route(async (_req, res) => {
      res.json({ goldenSets: await listGoldenSets(store) });
    }),
  );

  router.get(
    "/v1/golden-sets/:name",
    route(async (req, res) => {
      res.json(await getGoldenSetRecord(store, parseGoldenSetName(String(req.params.name))));
    }),
  );

  router.get(
    "/v1/golden-sets/:name/versions/:version",
    route(async (req, res) => {
      const { record, text } = await readGoldenSetText(store, parseGoldenSetName(String(req.params.name)), parseGoldenSetVersion(String(req.params.version)));
      res.set({ "content-type": "application/x-ndjson; charset=utf-8", "x-golden-set-version": String(record.version), etag: `"${record.sha256}"` }).send(text);
    }),
  );

  return router;
}

/** The body as text when it is JSON Lines or plain text; an oversize body is a 413 that names this limit. */
function jsonlBody() {
  const parse = express.text({ type: TEXT_TYPES, limit: MAX_GOLDEN_SET_BYTES });
  return (req: Request, res: Response, next: NextFunction) => {
    parse(req, res, (error?: unknown) => {
      if ((error as { type?: string } | undefined)?.type === "entity.too.large") {
        next(new RagopsError("payload_too_large", `golden set exceeds ${MAX_GOLDEN_SET_BYTES} bytes; split it into several sets`, { details: { limitBytes: MAX_GOLDEN_SET_BYTES } }));
        return;
      }
      next(error);
    });
  };
}
