import type { Queue } from "bullmq";
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
import type { Command } from "commander";
import cliProgress from "cli-progress";
import Table from "cli-table3";
import type { Config } from "../../config/schema.js";
import { listAudit } from "../../indexer/lifecycle/audit.js";
import { InvalidRequestError } from "../../core/errors.js";
import { createAndBuild, retire, rollback, showVersion, showVersions, swap, type LifecycleDeps } from "../../indexer/lifecycle/operations.js";
import { createLifecycleQueue, enqueueBuild } from "../queues/lifecycle-queue.js";
import { openRuntime } from "../runtime.js";
import { formatDuration, tableStyle } from "./output.js";

/** `ragops index ...` and `ragops audit`: the index lifecycle from a terminal. */
type ConfigFrom = (command: Command, overrides?: Record<string, unknown>) => Config;

const actor = () => `cli:${userInfo().username}`;

type CliLifecycle = LifecycleDeps & { lifecycleQueue: Queue };

async function withLifecycle<T>(config: Config, fn: (deps: CliLifecycle) => Promise<T>): Promise<T> {
  const runtime = await openRuntime(config);
  const lifecycleQueue = createLifecycleQueue(config);
  try {
    return await fn({ store: runtime.store, catalog: runtime.catalog, lifecycleQueue, startBuild: (version) => enqueueBuild(lifecycleQueue, version), defaultIndexProvider: config.index.provider });
  } finally {
    await lifecycleQueue.close();
    await runtime.close();
  }
}

/** Follows a build job to its end with a progress bar; throws with the reason when it fails. */
async function followBuild(deps: CliLifecycle, jobId: string): Promise<void> {
  const bar = process.stderr.isTTY ? new cliProgress.SingleBar({ format: "building [{bar}] {value}/{total} documents", hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  let started = false;
  for (;;) {
    const job = await deps.lifecycleQueue.getJob(jobId);
    if (!job) throw new InvalidRequestError(`build job ${jobId} not found`);
    const state = await job.getState();
    const detail = (job.progress as { detail?: string } | undefined)?.detail ?? "";
    const [done, total] = detail.split(" ")[0]?.split("/").map(Number) ?? [];
    if (bar && total) {
      if (!started) bar.start(total, 0);
      started = true;
      bar.update(done ?? 0);
    }
    if (state === "completed" || state === "failed") {
      bar?.stop();
      if (state === "failed") throw new Error(`the build failed: ${job.failedReason}`);
      return;
    }
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

export function addIndexCommands(program: Command, configFrom: ConfigFrom): void {
  const index = program.command("index").description("Index versions: build a green version beside the live one, swap, roll back, retire.");

  index
    .command("create")
    .description("Create an index version and build it (embeds only what the cache lacks for its embedder). Needs a running worker.")
    .option("-v, --version <name>", "version name (default v<N+1>)")
    .option("--config <file>", "JSON with embedder, chunking, dedupe, defaultTopK (defaults: the built-in ones)")
    .option("--chunk-size <tokens>", "chunking.sizeTokens", Number)
    .option("--dimensions <n>", "embedder.dimensions", Number)
    .option("--wait", "follow the build to its end")
    .action(async (options: { version?: string; config?: string; chunkSize?: number; dimensions?: number; wait?: boolean }, command: Command) => {
      const config = configFrom(command, { log: { level: "warn" } });
      const versionConfig = options.config ? (JSON.parse(readFileSync(options.config, "utf8")) as Record<string, unknown>) : {};
      if (options.chunkSize) versionConfig.chunking = { ...(versionConfig.chunking as object), sizeTokens: options.chunkSize };
      if (options.dimensions) versionConfig.embedder = { ...(versionConfig.embedder as object), dimensions: options.dimensions };
      await withLifecycle(config, async (deps) => {
        const started = Date.now();
        const record = await createAndBuild(deps, { version: options.version, config: versionConfig, actor: actor() });
        console.log(`created ${record.version} (build job ${record.buildJobId})`);
        if (!options.wait) return;
        await followBuild(deps, record.buildJobId as string);
        const built = await showVersion(deps, record.version);
        console.log(`${built.version} is ${built.state}: ${built.counts.documents} documents, ${built.counts.datapoints} datapoints, in ${formatDuration(Date.now() - started)}`);
      });
    });

  index
    .command("build")
    .description("Follow the build of a version with a progress bar until it ends.")
    .argument("<version>")
    .action(async (version: string, _options: unknown, command: Command) => {
      const config = configFrom(command, { log: { level: "warn" } });
      await withLifecycle(config, async (deps) => {
        const record = await showVersion(deps, version);
        if (!record.buildJobId) throw new InvalidRequestError(`${version} has no build job`);
        await followBuild(deps, record.buildJobId);
        const built = await showVersion(deps, version);
        console.log(`${built.version} is ${built.state}: ${built.counts.documents} documents, ${built.counts.datapoints} datapoints`);
      });
    });

  index
    .command("list")
    .description("Every version with its state; which is live and which previous.")
    .action(async (_options: unknown, command: Command) => {
      const config = configFrom(command, { log: { level: "warn" } });
      await withLifecycle(config, async (deps) => {
        const { versions } = await showVersions(deps);
        const table = new Table({ head: ["version", "state", "chunk size", "dimensions", "documents", "datapoints", "created"], style: tableStyle() });
        for (const v of versions) table.push([v.version, v.state, v.config.chunking.sizeTokens, v.config.embedder.dimensions, v.counts.documents, v.counts.datapoints, v.createdAt.slice(0, 19)]);
        console.log(table.toString());
      });
    });

  index
    .command("show")
    .description("One version's record as JSON.")
    .argument("<version>")
    .action(async (version: string, _options: unknown, command: Command) => {
      const config = configFrom(command, { log: { level: "warn" } });
      await withLifecycle(config, async (deps) => console.log(JSON.stringify(await showVersion(deps, version), null, 2)));
    });

  index
    .command("swap")
    .description("Make a version live, if live is still the version you expect (compare-and-swap).")
    .argument("<to>", "version to make live")
    .requiredOption("-e, --expected <version>", "the version you expect to be live now ('none' when nothing is)")
    .option("--force", "promote a version without a passing evaluation (recorded in the audit log)")
    .option("--reason <text>", "why, for the audit log")
    .action(async (to: string, options: { expected: string; force?: boolean; reason?: string }, command: Command) => {
      const config = configFrom(command, { log: { level: "warn" } });
      await withLifecycle(config, async (deps) => {
        const alias = await swap(deps, { to, expectedVersion: options.expected === "none" ? null : options.expected, force: options.force, reason: options.reason, actor: actor() });
        console.log(`live: ${alias.live}, previous: ${alias.previous}`);
      });
    });

  index
    .command("rollback")
    .description("Swap live and previous back.")
    .option("-e, --expected <version>", "refuse unless this version is live")
    .option("--reason <text>", "why, for the audit log")
    .action(async (options: { expected?: string; reason?: string }, command: Command) => {
      const config = configFrom(command, { log: { level: "warn" } });
      await withLifecycle(config, async (deps) => {
        const alias = await rollback(deps, { ...(options.expected ? { expectedVersion: options.expected } : {}), reason: options.reason, actor: actor() });
        console.log(`live: ${alias.live}, previous: ${alias.previous}`);
      });
    });

  index
    .command("retire")
    .description("Drop a version's index data (its record stays). Live and previous are refused.")
    .argument("<version>")
    .option("--reason <text>", "why, for the audit log")
    .action(async (version: string, options: { reason?: string }, command: Command) => {
      const config = configFrom(command, { log: { level: "warn" } });
      await withLifecycle(config, async (deps) => {
        await retire(deps, { version, reason: options.reason, actor: actor() });
        console.log(`${version} retired`);
      });
    });

  program
    .command("audit")
    .description("The audit log: who created, built, swapped, rolled back or retired what, and when.")
    .option("-n, --limit <n>", "entries per page (default 50)", Number)
    .option("--after <cursor>", "continue after this cursor (printed at the end of a page)")
    .action(async (options: { limit?: number; after?: string }, command: Command) => {
      const config = configFrom(command, { log: { level: "warn" } });
      await withLifecycle(config, async (deps) => {
        const page = await listAudit(deps.store, { limit: options.limit ?? 50, ...(options.after ? { after: options.after } : {}) });
        const table = new Table({ head: ["when", "who", "action", "version", "from → to", "reason"], style: tableStyle() });
        for (const e of page.entries) table.push([e.at.slice(0, 19), e.actor, e.action, e.version ?? "", e.from !== undefined || e.to ? `${e.from ?? "-"} → ${e.to ?? "-"}` : "", e.reason ?? ""]);
        console.log(table.toString());
        if (page.next) console.log(`more: ragops audit --after ${page.next}`);
      });
    });
}
