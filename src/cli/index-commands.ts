import { readFileSync } from "node:fs";
import { Option, type Command } from "commander";
import { FUSION_METHODS, RETRIEVAL_MODES, type FusionMethod, type RetrievalMode } from "../../config/schema.js";
import Table from "cli-table3";
import { InvalidRequestError } from "../../core/errors.js";
import { createWithinVersionCaps } from "../lifecycle-caps.js";
import { rebuildRefusal, type RebuildResult } from "../../indexer/lifecycle/vertex-rebuild.js";
import { enqueueRebuild } from "../queues/lifecycle-queue.js";
import { createAndBuild, retire, rollback, showVersion, showVersions, swap } from "../../indexer/lifecycle/operations.js";
import { getVersion, versionRetrieval, type VersionRetrieval } from "../../indexer/lifecycle/versions.js";
import { actor, followBuild, followLifecycleJob, lifecycleConfigFrom, withLifecycle } from "./lifecycle-session.js";
import { formatDuration, tableStyle } from "./output.js";

/** `ragops index ...`: the index lifecycle from a terminal (`ragops audit` reads what it recorded). */
export function addIndexCommands(program: Command): void {
  const index = program.command("index").description("Index versions: build a green version beside the live one, swap, roll back, retire.");
  addCreateCommand(index);
  addBuildCommand(index);
  addListCommand(index);
  addShowCommand(index);
  addSwapCommand(index);
  addRollbackCommand(index);
  addRetireCommand(index);
  addRebuildCommand(index);
}

interface CreateOptions {
  version?: string;
  settings?: string;
  chunkSize?: number;
  dimensions?: number;
  retrieval?: RetrievalMode;
  fusion?: FusionMethod;
  wait?: boolean;
}

function addCreateCommand(index: Command): void {
  index
    .command("create")
    .description("Create an index version and build it (embeds only what the cache lacks for its embedder). Needs a running worker.")
    .option("-v, --version <name>", "version name (default v<N+1>)")
    // Not --config: that is the global option naming ragops' own config file, and commander gives it every --config on the line.
    .option("--settings <file>", "the version's settings: JSON with embedder, chunking, dedupe, retrieval, defaultTopK, filter (defaults: the built-in ones)")
    .option("--chunk-size <tokens>", "chunking.sizeTokens", Number)
    .option("--dimensions <n>", "embedder.dimensions", Number)
    .addOption(new Option("--retrieval <mode>", "retrieval.mode (default hybrid)").choices(RETRIEVAL_MODES))
    .addOption(new Option("--fusion <method>", "retrieval.fusion: how a hybrid version fuses its rankings (default relative-score)").choices(FUSION_METHODS))
    .option("--wait", "follow the build to its end")
    .action(async (options: CreateOptions, command: Command) => {
      const config = lifecycleConfigFrom(command);
      const versionConfig = versionConfigFrom(options, options.settings ? readFileSync(options.settings, "utf8") : undefined);
      await withLifecycle(config, async (deps) => {
        const started = Date.now();
        const caps = { ...deps, redisPrefix: config.redis.prefix };
        const record = await createWithinVersionCaps(caps, config.limits, () => createAndBuild(deps, { version: options.version, config: versionConfig, actor: actor() }));
        console.log(`created ${record.version} (build job ${record.buildJobId})`);
        if (!options.wait) return;
        await followBuild(deps, record.buildJobId as string);
        const built = await showVersion(deps, record.version);
        console.log(`${built.version} is ${built.state}: ${built.counts.documents} documents, ${built.counts.datapoints} datapoints, in ${formatDuration(Date.now() - started)}`);
      });
    });
}

/** The version config `index create` asks for: the --settings file's JSON, with --chunk-size, --dimensions, --retrieval and --fusion laid over it. */
export function versionConfigFrom(options: Pick<CreateOptions, "chunkSize" | "dimensions" | "retrieval" | "fusion">, fileText?: string): Record<string, unknown> {
  const versionConfig = fileText ? (JSON.parse(fileText) as Record<string, unknown>) : {};
  if (options.chunkSize) versionConfig.chunking = { ...(versionConfig.chunking as object), sizeTokens: options.chunkSize };
  if (options.dimensions) versionConfig.embedder = { ...(versionConfig.embedder as object), dimensions: options.dimensions };
  if (options.retrieval) versionConfig.retrieval = { ...(versionConfig.retrieval as object), mode: options.retrieval };
  if (options.fusion) versionConfig.retrieval = { ...(versionConfig.retrieval as object), fusion: options.fusion };
  return versionConfig;
}

function addBuildCommand(index: Command): void {
  index
    .command("build")
    .description("Follow the build of a version with a progress bar until it ends.")
    .argument("<version>")
    .action(async (version: string, _options: unknown, command: Command) => {
      await withLifecycle(lifecycleConfigFrom(command), async (deps) => {
        const record = await showVersion(deps, version);
        if (!record.buildJobId) throw new InvalidRequestError(`${version} has no build job`);
        await followBuild(deps, record.buildJobId);
        const built = await showVersion(deps, version);
        console.log(`${built.version} is ${built.state}: ${built.counts.documents} documents, ${built.counts.datapoints} datapoints`);
      });
    });
}

/** "hybrid (relative-score)", "dense": a hybrid version's fusion matters as much as its mode. */
export function retrievalLabel(retrieval: Pick<VersionRetrieval, "mode" | "fusion">): string {
  return retrieval.mode === "hybrid" ? `hybrid (${retrieval.fusion})` : retrieval.mode;
}

function addListCommand(index: Command): void {
  index
    .command("list")
    .description("Every version with its state; which is live and which previous.")
    .action(async (_options: unknown, command: Command) => {
      await withLifecycle(lifecycleConfigFrom(command), async (deps) => {
        const { versions } = await showVersions(deps);
        const table = new Table({ head: ["version", "state", "retrieval", "chunk size", "dimensions", "documents", "datapoints", "created"], style: tableStyle() });
        for (const v of versions) table.push([v.version, v.state, retrievalLabel(versionRetrieval(v)), v.config.chunking.sizeTokens, v.config.embedder.dimensions, v.counts.documents, v.counts.datapoints, v.createdAt.slice(0, 19)]);
        console.log(table.toString());
      });
    });
}

function addShowCommand(index: Command): void {
  index
    .command("show")
    .description("One version's record as JSON.")
    .argument("<version>")
    .action(async (version: string, _options: unknown, command: Command) => {
      await withLifecycle(lifecycleConfigFrom(command), async (deps) => console.log(JSON.stringify(await showVersion(deps, version), null, 2)));
    });
}

function addSwapCommand(index: Command): void {
  index
    .command("swap")
    .description("Make a version live, if live is still the version you expect (compare-and-swap).")
    .argument("<to>", "version to make live")
    .requiredOption("-e, --expected <version>", "the version you expect to be live now ('none' when nothing is)")
    .option("--force", "promote a version without a passing evaluation (recorded in the audit log)")
    .option("--reason <text>", "why, for the audit log")
    .action(async (to: string, options: { expected: string; force?: boolean; reason?: string }, command: Command) => {
      await withLifecycle(lifecycleConfigFrom(command), async (deps) => {
        const alias = await swap(deps, { to, expectedVersion: options.expected === "none" ? null : options.expected, force: options.force, reason: options.reason, actor: actor() });
        console.log(`live: ${alias.live}, previous: ${alias.previous}`);
      });
    });
}

function addRollbackCommand(index: Command): void {
  index
    .command("rollback")
    .description("Swap live and previous back.")
    .option("-e, --expected <version>", "refuse unless this version is live")
    .option("--reason <text>", "why, for the audit log")
    .action(async (options: { expected?: string; reason?: string }, command: Command) => {
      await withLifecycle(lifecycleConfigFrom(command), async (deps) => {
        const alias = await rollback(deps, { ...(options.expected ? { expectedVersion: options.expected } : {}), reason: options.reason, actor: actor() });
        console.log(`live: ${alias.live}, previous: ${alias.previous}`);
      });
    });
}

function addRetireCommand(index: Command): void {
  index
    .command("retire")
    .description("Drop a version's index data (its record stays). Live and previous are refused.")
    .argument("<version>")
    .option("--reason <text>", "why, for the audit log")
    .action(async (version: string, options: { reason?: string }, command: Command) => {
      await withLifecycle(lifecycleConfigFrom(command), async (deps) => {
        const record = await retire(deps, { version, reason: options.reason, actor: actor() });
        console.log(record.retireJobId ? `${version} retired; job ${record.retireJobId} undeploys and deletes its Vertex index (a worker runs it)` : `${version} retired`);
      });
    });
}

function addRebuildCommand(index: Command): void {
  index
    .command("rebuild")
    .description("Rebuild a Vertex version's index from ragops' own data: write every chunk's vector (the embedding cache), sparse vector and restricts as batch files under gcp.vectorSearch.stagingUri and replace the index's content with them (updateIndex, complete overwrite). A worker runs it.")
    .argument("<version>")
    .option("--wait", "follow the rebuild to its end")
    .action(async (version: string, options: { wait?: boolean }, command: Command) => {
      const config = lifecycleConfigFrom(command);
      await withLifecycle(config, async (deps) => {
        const refusal = rebuildRefusal(await getVersion(deps.store, version), config);
        if (refusal) throw refusal;
        const jobId = await enqueueRebuild(deps.lifecycleQueue, version);
        console.log(`rebuild of ${version} queued: job ${jobId}`);
        if (!options.wait) return;
        const result = (await followLifecycleJob(deps, jobId, { name: "rebuild", unit: "datapoints" })) as RebuildResult;
        const validation = result.validation ? `; Vertex read ${result.validation.valid} records${result.validation.invalid ? `, refused ${result.validation.invalid}: ${result.validation.errors.join("; ")}` : ""}` : "";
        console.log(`${version} rebuilt from ${result.contentsDeltaUri}: ${result.records} datapoints in ${result.dataFiles} files (${result.embedded} embedded)${result.resumed ? " (resumed the operation an earlier run started)" : ""}${validation}`);
      });
    });
}
