import type { Job } from "bullmq";
import { evaluateWithGate } from "../../indexer/evaluation/gated.js";
import type { EvaluateDeps } from "../../indexer/evaluation/run.js";
import { evaluatePayloadSchema } from "../queues/lifecycle-queue.js";
import type { Runtime } from "../runtime.js";

/** What an evaluate job returns (GET /v1/jobs/:id `result`). */
export interface EvaluateJobResult {
  reportId: string;
  version: string;
  goldenSet: { name: string; version: number };
  /** The gate's verdict; absent when the live version itself was evaluated. */
  passed?: boolean;
  summary?: string;
  links: { report: string; run: string };
}

export function evaluateDeps(runtime: Pick<Runtime, "config" | "store" | "redis" | "catalog">): EvaluateDeps {
  return { store: runtime.store, redis: runtime.redis, redisPrefix: runtime.config.redis.prefix, catalog: runtime.catalog, evaluation: runtime.config.evaluation };
}

/** One evaluate job: the gated evaluation, its progress as questions done of total (live's questions included). */
export async function processEvaluate(runtime: Pick<Runtime, "config" | "store" | "redis" | "catalog">, job: Pick<Job, "data" | "updateProgress">): Promise<EvaluateJobResult> {
  const payload = evaluatePayloadSchema.parse(job.data);
  const report = await evaluateWithGate(evaluateDeps(runtime), {
    version: payload.version,
    goldenSet: payload.goldenSet,
    k: payload.k,
    actor: payload.actor,
    onProgress: (done, total) => job.updateProgress({ stage: "evaluating", percent: total ? Math.round((100 * done) / total) : 100, detail: `${done}/${total} questions` }),
  });
  return {
    reportId: report.id,
    version: report.version,
    goldenSet: { name: report.goldenSet.name, version: report.goldenSet.version },
    ...(report.gate ? { passed: report.gate.passed, summary: report.gate.summary } : {}),
    links: { report: `/v1/evaluations/${report.id}`, run: `/v1/evaluations/${report.id}/run.txt` },
  };
}
