import type { Job, JobState, Queue } from "bullmq";
import type { Router } from "express";
import { NotFoundError } from "../../core/errors.js";
import { LIFECYCLE_JOB_PREFIXES } from "../queues/lifecycle-queue.js";
import { readJob } from "../queues/read-job.js";
import type { Runtime } from "../runtime.js";
import { route, strictRouter } from "./route.js";

/** What GET /v1/jobs/:id answers: the job's state and outcome, times as ISO strings. */
export interface JobView {
  id: string | undefined;
  name: string;
  state: JobState | "unknown";
  progress: Job["progress"];
  attemptsMade: number;
  attempts: number;
  failedReason: string | undefined;
  result: unknown;
  documentId: unknown;
  version: unknown;
  createdAt: string;
  startedAt: string | undefined;
  finishedAt: string | undefined;
}

type JobFields = Pick<Job, "id" | "name" | "progress" | "attemptsMade" | "opts" | "failedReason" | "returnvalue" | "data" | "timestamp" | "processedOn" | "finishedOn">;

export function jobView(job: JobFields, state: JobState | "unknown"): JobView {
  return {
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
  };
}

/** Jobs of both queues by id: index builds (build-*) and evaluations (evaluate-*) on the lifecycle queue, the rest on the ingest queue. */
export function jobRoutes(runtime: Runtime, lifecycleQueue: Queue): Router {
  const { config, queue } = runtime;
  const router = strictRouter();
  router.get(
    "/v1/jobs/:id",
    route(async (req, res) => {
      const id = String(req.params.id);
      const view = await readJobView(LIFECYCLE_JOB_PREFIXES.some((prefix) => id.startsWith(prefix)) ? lifecycleQueue : queue, id);
      if (!view) throw new NotFoundError(`job ${req.params.id} not found (finished jobs are kept for the last ${config.queue.keepCompleted})`);
      res.json(view);
    }),
  );
  return router;
}

/** GET /v1/jobs/:id's answer, read so that a finished state comes with its result (see readJob). */
export async function readJobView(queue: Pick<Queue, "getJob">, id: string): Promise<JobView | undefined> {
  const found = await readJob((jobId) => queue.getJob(jobId), id);
  return found && jobView(found.job, found.state);
}
