import { randomUUID } from "node:crypto";
import { Queue } from "bullmq";
import { z } from "zod";
import type { Config } from "../../config/schema.js";
import { queueConnection } from "./ingest-queue.js";

/** Index builds: long jobs on a queue of their own, so they never hold an ingest slot. */
export const LIFECYCLE_QUEUE = "lifecycle";

export const buildPayloadSchema = z.strictObject({ version: z.string().min(1) });

export function createLifecycleQueue(config: Config): Queue {
  const { connection, prefix } = queueConnection(config);
  return new Queue(LIFECYCLE_QUEUE, { connection, prefix, defaultJobOptions: { attempts: 1, removeOnComplete: { count: 100 }, removeOnFail: { count: 100 } } });
}

export async function enqueueBuild(queue: Queue, version: string): Promise<string> {
  const jobId = `build-${version}-${randomUUID().slice(0, 8)}`;
  await queue.add("build", { version }, { jobId });
  return jobId;
}
