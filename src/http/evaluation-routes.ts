import type { Queue } from "bullmq";
import express, { type Request, type Response, type Router } from "express";
import { z } from "zod";
import { versionNameSchema } from "../../config/schema.js";
import { InvalidRequestError, isRagopsError } from "../../core/errors.js";
import { getGoldenSetRecord, parseGoldenSetRef } from "../../indexer/evaluation/golden-store.js";
import { qrelsKey, readReport, runKey, type EvaluationReport } from "../../indexer/evaluation/run.js";
import { getVersion } from "../../indexer/lifecycle/versions.js";
import { enqueueEvaluate } from "../queues/lifecycle-queue.js";
import { evaluationPageCsp, newNonce, renderEvaluationPage } from "../reports/evaluation-page.js";
import type { Runtime } from "../runtime.js";
import { parseBody } from "./errors.js";
import { route, strictRouter } from "./route.js";

/**
 * Evaluations over HTTP: queue one (a job on the lifecycle queue), read its
 * report, and its TREC run and qrels for checking with trec_eval itself.
 */
const evaluateSchema = z.strictObject({
  /** "name" (its latest version, pinned now) or "name@3". */
  goldenSet: z.string().min(1).max(200),
  k: z.number().int().min(1).optional(),
});

export function evaluationRoutes(runtime: Pick<Runtime, "store" | "config">, lifecycleQueue: Queue): Router {
  const { store, config } = runtime;
  const router = strictRouter();

  router.post(
    "/v1/indexes/:version/evaluations",
    express.json({ limit: "16kb" }),
    route(async (req, res) => {
      const parsed = versionNameSchema.safeParse(String(req.params.version));
      if (!parsed.success) throw new InvalidRequestError(`invalid index version ${JSON.stringify(req.params.version)}: ${parsed.error.issues[0]?.message ?? "not a version name"}`);
      const version = parsed.data;
      const body = parseBody(evaluateSchema, req.body ?? {});
      if (body.k !== undefined && body.k > config.evaluation.maxTopK) throw new InvalidRequestError(`k must be at most ${config.evaluation.maxTopK} (evaluation.maxTopK); got ${body.k}`);
      // Both must exist now: a typo is a 404 here, not a failed job later.
      await getVersion(store, version);
      const ref = parseGoldenSetRef(body.goldenSet);
      const golden = await getGoldenSetRecord(store, ref.name, ref.version);
      const goldenSet = { name: golden.name, version: golden.version };
      const jobId = await enqueueEvaluate(lifecycleQueue, { version, goldenSet, ...(body.k !== undefined ? { k: body.k } : {}), actor: String(res.locals.actor ?? "anonymous") });
      res.status(202).json({ jobId, version, goldenSet, k: body.k ?? Math.min(config.evaluation.defaultK, config.evaluation.maxTopK), links: { job: `/v1/jobs/${jobId}`, index: `/v1/indexes/${version}` } });
    }),
  );

  router.get(
    "/v1/evaluations/:id",
    route(async (req, res) => {
      const format = reportFormat(req);
      const report = await readReport(store, String(req.params.id));
      res.vary("Accept");
      if (format === "json") {
        res.json(report);
        return;
      }
      const nonce = newNonce();
      const page = renderEvaluationPage(report, await liveReport(store, report), { nonce });
      res.set({ "content-type": "text/html; charset=utf-8", "content-security-policy": evaluationPageCsp(nonce), "x-content-type-options": "nosniff", "cache-control": "no-store" }).send(page);
    }),
  );

  const trecFile = (key: (id: string) => string) =>
    route(async (req: Request, res: Response) => {
      const report = await readReport(store, String(req.params.id));
      const { body } = await store.get(key(report.id));
      res.type("text/plain; charset=utf-8").send(body.toString("utf8"));
    });
  router.get("/v1/evaluations/:id/run.txt", trecFile(runKey));
  router.get("/v1/evaluations/:id/qrels.txt", trecFile(qrelsKey));

  return router;
}

const formatSchema = z.enum(["json", "html"]);

/** `?format=` decides; without it, Accept (a browser asks for text/html first), and JSON for anything else. */
function reportFormat(req: Request): "json" | "html" {
  const asked = req.query.format;
  if (asked !== undefined) {
    const parsed = formatSchema.safeParse(asked);
    if (!parsed.success) throw new InvalidRequestError(`format must be "json" or "html"; got ${JSON.stringify(asked)}`);
    return parsed.data;
  }
  return req.accepts(["json", "html"]) === "html" ? "html" : "json";
}

/** The live report the gate compared with; a page still renders (green only) if it is gone. */
async function liveReport(store: Runtime["store"], report: EvaluationReport): Promise<EvaluationReport | undefined> {
  if (!report.live) return undefined;
  try {
    return await readReport(store, report.live.reportId);
  } catch (error) {
    if (isRagopsError(error) && error.code === "not_found") return undefined;
    throw error;
  }
}
