import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config } from "../config/schema.js";
import { createEmbedder, type Embedder } from "../indexer/embedders/index.js";
import { openVectorIndex, type VectorIndex } from "../indexer/indexes/index.js";
import { createLogger, type Logger } from "./logger.js";
import { createIngestQueue } from "./queues/ingest-queue.js";
import { connectRedis, createRedis } from "./queues/redis.js";
import { createObjectStore } from "./stores/index.js";
import type { ObjectStore } from "./stores/object-store.js";

/** The adapters one process uses, opened from config at an entry point and closed once. */
export interface Runtime {
  config: Config;
  logger: Logger;
  store: ObjectStore;
  embedder: Embedder;
  redis: Redis;
  queue: Queue;
  /** The configured index version, opened on first use. */
  index(): Promise<VectorIndex>;
  close(): Promise<void>;
}

export async function openRuntime(config: Config, options: { logger?: Logger } = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger(config);
  const redis = createRedis(config.redis.url, "client");
  await connectRedis(redis, config.redis.url);
  const store = createObjectStore(config);
  const embedder = createEmbedder(config.embedder);
  const queue = createIngestQueue(config);
  let index: Promise<VectorIndex> | undefined;
  const openIndex = () =>
    (index ??= openVectorIndex(config.index, { dataDir: config.dataDir, version: config.index.version, dimensions: embedder.identity.dimensions }).catch((error: unknown) => {
      index = undefined; // let a later call retry
      throw error;
    }));
  return {
    config,
    logger,
    store,
    embedder,
    redis,
    queue,
    index: openIndex,
    close: async () => {
      await queue.close();
      if (index) await (await index.catch(() => undefined))?.close();
      await store.close();
      redis.disconnect();
    },
  };
}
