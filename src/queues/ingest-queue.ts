import { quietConnectionErrors } from "./connection-errors.js";
import { randomUUID } from "node:crypto";
import { Queue, QueueEvents, type ConnectionOptions, type JobsOptions } from "bullmq";
import { z } from "zod";
import type { Config } from "../../config/schema.js";

/**
 * The ingest queue: one job per document version (name "ingest") or
 * deletion (name "delete"). Payloads are validated when enqueued and again
 * when a worker takes them, since Redis holds whatever was written to it.
 */
export const INGEST_QUEUE = "ingest";

export const documentIdSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/, "document ids are 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit");

export const ingestPayloadSchema = z.strictObject({
  documentId: documentIdSchema,
  version: z.number().int().positive(),
  objectKey: z.string().min(1),
  /** What the client claimed; the worker trusts the bytes. */
  contentType: z.string().min(1),
  filename: z.string().optional(),
  /** From a refresh: what the source said about the file, so the next refresh can skip it unread. */
  fingerprint: z.strictObject({ mtimeMs: z.number().optional(), generation: z.string().optional() }).optional(),
  metadata: z.strictObject({
    source: z.string(),
    title: z.string().optional(),
    tags: z.array(z.string()),
    date: z.string().optional(),
  }),
});

export const deletePayloadSchema = z.strictObject({
  documentId: documentIdSchema,
  version: z.number().int().positive(),
});

export type IngestPayload = z.infer<typeof ingestPayloadSchema>;
export type DeletePayload = z.infer<typeof deletePayloadSchema>;

export type { JobProgress } from "../../indexer/sync/progress.js";

/**
 * Job ids name the document and version, plus a nonce: a document deleted and
 * uploaded again starts at version 1, and BullMQ would take a second job with a
 * finished job's id for that old job. (Ids may not contain ':'.)
 */
export const ingestJobId = (documentId: string, version: number, nonce = randomUUID().slice(0, 8)) => `ingest-${documentId}-v${version}-${nonce}`;
export const deleteJobId = (documentId: string, version: number, nonce = randomUUID().slice(0, 8)) => `delete-${documentId}-v${version}-${nonce}`;

export function queueConnection(config: Config): { connection: ConnectionOptions; prefix: string } {
  const url = new URL(config.redis.url);
  return {
    connection: {
      host: url.hostname,
      port: Number(url.port || 6379),
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      db: url.pathname.length > 1 ? Number(url.pathname.slice(1)) : 0,
      tls: url.protocol === "rediss:" ? {} : undefined,
      maxRetriesPerRequest: null,
    },
    prefix: `${config.redis.prefix}:bull`,
  };
}

/** The backoff type of ragops jobs: the workers compute it (worker-options.ts retryDelay: doubling, capped, jittered). */
export const RETRY_BACKOFF = "ragops-jittered";

function defaultJobOptions(config: Config): JobsOptions {
  return {
    attempts: config.queue.attempts,
    backoff: { type: RETRY_BACKOFF, delay: config.queue.backoffMs },
    removeOnComplete: { count: config.queue.keepCompleted },
    removeOnFail: { count: config.queue.keepFailed },
  };
}

export function createIngestQueue(config: Config): Queue {
  const { connection, prefix } = queueConnection(config);
  return quietConnectionErrors(new Queue(INGEST_QUEUE, { connection, prefix, defaultJobOptions: defaultJobOptions(config) }));
}

export async function createIngestQueueEvents(config: Config): Promise<QueueEvents> {
  const { connection, prefix } = queueConnection(config);
  const events = quietConnectionErrors(new QueueEvents(INGEST_QUEUE, { connection, prefix }));
  // Subscribed before any job is added, or a fast job's completion is missed.
  await events.waitUntilReady();
  return events;
}

export async function enqueueIngest(queue: Queue, payload: IngestPayload, jobId: string): Promise<string> {
  await queue.add("ingest", ingestPayloadSchema.parse(payload), { jobId });
  return jobId;
}

export async function enqueueDelete(queue: Queue, payload: DeletePayload, jobId: string): Promise<string> {
  await queue.add("delete", deletePayloadSchema.parse(payload), { jobId });
  return jobId;
}
