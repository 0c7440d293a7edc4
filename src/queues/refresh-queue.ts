import { quietConnectionErrors } from "./connection-errors.js";
import { Queue } from "bullmq";
import { z } from "zod";
import type { Config } from "../../config/schema.js";
import { queueConnection } from "./ingest-queue.js";

/**
 * The refresh queue: one job per source re-scan, scheduled from
 * `refresh.cron`. It has its own queue (and worker) so a refresh waiting for
 * its ingest jobs never occupies an ingest slot.
 */
export const REFRESH_QUEUE = "refresh";

export const refreshPayloadSchema = z.strictObject({
  source: z.string().min(1),
  tags: z.array(z.string()).optional(),
});


export function createRefreshQueue(config: Config): Queue {
  const { connection, prefix } = queueConnection(config);
  return quietConnectionErrors(new Queue(REFRESH_QUEUE, { connection, prefix, defaultJobOptions: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } }));
}

export const schedulerId = (source: string) => `refresh:${source}`;

/** Makes the queue's schedules match the config: one per source at refresh.cron, none when unset. */
export async function syncRefreshSchedules(queue: Queue, config: Config): Promise<string[]> {
  const wanted = config.refresh.cron ? config.refresh.sources.map((source) => ({ id: schedulerId(source), source })) : [];
  for (const existing of await queue.getJobSchedulers()) {
    if (existing.key && !wanted.some((w) => w.id === existing.key)) await queue.removeJobScheduler(existing.key);
  }
  for (const { id, source } of wanted) {
    await queue.upsertJobScheduler(id, { pattern: config.refresh.cron as string }, { name: "refresh", data: { source }, opts: { attempts: 1 } });
  }
  return wanted.map((w) => w.id);
}
