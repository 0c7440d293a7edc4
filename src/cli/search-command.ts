import { Option, type Command } from "commander";
import { FUSION_METHODS, RETRIEVAL_MODES, type FusionMethod, type RetrievalMode } from "../../config/schema.js";
import { bootstrapVersions, createVersionCatalog } from "../../indexer/lifecycle/catalog.js";
import { createLogger } from "../../core/logger.js";
import { simulatedLatencyWarning } from "../../indexer/simulated-latency.js";
import { connectRedis, createRedis } from "../queues/redis.js";
import { search } from "../search.js";
import { createObjectStore } from "../stores/index.js";
import { collect, configFrom, finiteNumber, positiveInt } from "./common.js";
import { formatSearchResults } from "./output.js";

interface SearchOptions {
  topK?: number;
  tag: string[];
  document: string[];
  index?: string;
  group?: "chunk" | "document";
  minScore?: number;
  mode?: RetrievalMode;
  fusion?: FusionMethod;
  json?: boolean;
}

/** `ragops search`: the best chunks for a question, from the live version or the one named. */
export function addSearchCommand(program: Command): void {
  program
    .command("search")
    .description("Search the index and print the best chunks.")
    .argument("<question>", "what to look for")
    .option("-k, --top-k <k>", "number of results (default 5)", positiveInt)
    .option("-t, --tag <tag>", "only chunks with this tag (repeatable: any of them)", collect, [])
    .option("-d, --document <id>", "only chunks of this document (repeatable)", collect, [])
    .option("-i, --index <version>", "search this index version instead of the live one")
    .addOption(new Option("-g, --group <shape>", "document: the best chunk of each document, up to k documents").choices(["chunk", "document"]))
    .option("--min-score <score>", "leave out hits scored below this", finiteNumber)
    .addOption(new Option("-m, --mode <mode>", "retrieve this way instead of the version's own mode (a dense-only version answers only dense)").choices(RETRIEVAL_MODES))
    .addOption(new Option("--fusion <method>", "fuse a hybrid answer this way instead of the version's own fusion").choices(FUSION_METHODS))
    .option("--json", "print JSON instead of a table")
    .action(async (question: string, options: SearchOptions, command: Command) => {
      const config = configFrom(command);
      const store = createObjectStore(config);
      await bootstrapVersions(config, store);
      const simulated = simulatedLatencyWarning(config);
      if (simulated) console.error(`ragops: ${simulated}`);
      // Hits are shown from the chunk store, in Redis.
      const redis = createRedis(config.redis.url, "client");
      await connectRedis(redis, config.redis.url);
      const catalog = createVersionCatalog({ config, store, redis, logger: createLogger(config) });
      try {
        const response = await search({ config, catalog, redis }, searchRequestFrom(question, options));
        console.log(options.json ? JSON.stringify(response, null, 2) : `${formatSearchResults(response.results)}\n(index ${response.index}, ${response.mode} retrieval${response.fusion ? `, ${response.fusion} fusion` : ""})`);
      } finally {
        redis.disconnect();
        await catalog.close();
      }
    });
}

/** The search request the options ask for: a filter only when --tag or --document is given, an index, a group and a minimum score only when named. */
export function searchRequestFrom(question: string, options: SearchOptions): Parameters<typeof search>[1] {
  const filter =
    options.tag.length || options.document.length ? { ...(options.tag.length ? { tags: options.tag } : {}), ...(options.document.length ? { documentId: options.document } : {}) } : undefined;
  return {
    query: question,
    k: options.topK,
    filter,
    ...(options.index ? { index: options.index } : {}),
    ...(options.mode ? { mode: options.mode } : {}),
    ...(options.fusion ? { fusion: options.fusion } : {}),
    ...(options.group ? { group: options.group } : {}),
    ...(options.minScore !== undefined ? { minScore: options.minScore } : {}),
  };
}
