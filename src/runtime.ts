import type { Queue } from "bullmq";
import type { Redis } from "ioredis";
import type { Config, EmbedderConfig } from "../config/schema.js";
import type { Embedder } from "../indexer/embedders/index.js";
import type { VectorIndex } from "../indexer/indexes/index.js";
import { bootstrapVersions, createVersionCatalog, type VersionCatalog } from "../indexer/lifecycle/catalog.js";
import { announcingChanges, createChangeSignal } from "../indexer/lifecycle/change-signal.js";
import { createLogger, type Logger } from "../core/logger.js";
import { simulatedLatencyWarning } from "../indexer/simulated-latency.js";
import { createIngestQueue } from "./queues/ingest-queue.js";
import { connectRedis, createRedis } from "./queues/redis.js";
import { createObjectStore } from "./stores/index.js";
import type { ObjectStore } from "../core/object-store.js";

/** The adapters one process uses, opened from config at an entry point and closed once. */
export interface Runtime {
  config: Config;
  logger: Logger;
  store: ObjectStore;
  redis: Redis;
  queue: Queue;
  /** Index versions: the registry, opened on demand. */
  catalog: VersionCatalog;
  /** The configured index version (index.version), opened on first use. */
  index(): Promise<VectorIndex>;
  close(): Promise<void>;
}

export interface RuntimeOptions {
  logger?: Logger;
  /** How index versions get their embedder (benchmarks wrap the real one to count calls). */
  embedderFor?: (config: EmbedderConfig) => Embedder;
  /** Wraps the configured object store (tests inject storage faults with it). */
  wrapStore?: (store: ObjectStore) => ObjectStore;
}

export async function openRuntime(config: Config, options: RuntimeOptions = {}): Promise<Runtime> {
  const logger = options.logger ?? createLogger(config);
  const simulated = simulatedLatencyWarning(config);
  if (simulated) logger.warn({ simulate: config.simulate }, simulated);
  const redis = createRedis(config.redis.url, "client");
  await connectRedis(redis, config.redis.url);
  // Every alias and version record write of this process is announced, so every process's search sees it at its next request.
  const signal = createChangeSignal(redis, config.redis.prefix, logger);
  const opened = createObjectStore(config);
  const store = announcingChanges(options.wrapStore ? options.wrapStore(opened) : opened, signal);
  const queue = createIngestQueue(config);
  await bootstrapVersions(config, store);
  const catalog = createVersionCatalog({ config, store, redis, logger, signal }, options.embedderFor);
  return {
    config,
    logger,
    store,
    redis,
    queue,
    catalog,
    index: async () => (await catalog.open(config.index.version)).index,
    close: async () => {
      await queue.close();
      await catalog.close();
      await store.close();
      redis.disconnect();
    },
  };
}
