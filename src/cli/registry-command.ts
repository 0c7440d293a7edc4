import Table from "cli-table3";
import type { Command } from "commander";
import { InvalidRequestError } from "../../core/errors.js";
import { byProfile } from "../../indexer/lifecycle/catalog.js";
import { corpusLockKey, withCorpusLease } from "../../indexer/sync/corpus-lock.js";
import { rebuildRegistry, type RegistryRebuild } from "../../indexer/sync/registry-rebuild.js";
import { openRuntime, type Runtime } from "../runtime.js";
import { quietConfigFrom } from "./common.js";
import { formatDuration, tableStyle } from "./output.js";

interface RebuildOptions {
  profile?: string;
  json?: boolean;
}

/** `ragops registry rebuild`: the chunk registry and chunk store of every followed profile, from the manifests. */
export function addRegistryCommand(program: Command): void {
  const registry = program.command("registry").description("The chunk registry in Redis (references, near-duplicate links, LSH buckets, chunk store): derived from the manifests.");
  registry
    .command("rebuild")
    .description("Rebuild the chunk registry and chunk store of each chunking profile an index version follows, from its manifests, under the corpus lease (writes wait meanwhile). A chunk an index holds stays indexed; the others are matched for near-duplicates as sync matches them.")
    .option("--profile <profile>", "only this chunking profile (as `ragops index show` names it)")
    .option("--json", "print what was rebuilt as JSON")
    .action(async (options: RebuildOptions, command: Command) => {
      const runtime = await openRuntime(quietConfigFrom(command));
      try {
        const rebuilt = await rebuildRegistries(runtime, options.profile);
        if (options.json) console.log(JSON.stringify(rebuilt, null, 2));
        else printRebuilds(rebuilt);
      } finally {
        await runtime.close();
      }
    });
}

/** Rebuilds each followed profile's registry (or the one named), one lease per profile. */
export async function rebuildRegistries(runtime: Runtime, only?: string): Promise<RegistryRebuild[]> {
  const { config, store, redis } = runtime;
  const profiles = byProfile(await runtime.catalog.following());
  if (only && !profiles.has(only)) throw new InvalidRequestError(`no index version follows profile ${only}; profiles followed: ${[...profiles.keys()].join(", ") || "none"}`);
  const out: RegistryRebuild[] = [];
  const lock = { ttlMs: config.sync.lockTtlMs, waitMs: config.sync.lockWaitMs };
  for (const [profile, versions] of profiles) {
    if (only && profile !== only) continue;
    const deps = { store, redis, redisPrefix: config.redis.prefix, profile, dedupe: (versions[0] as (typeof versions)[number]).record.config.dedupe, indexes: versions.map((v) => v.index) };
    out.push(await withCorpusLease(redis, corpusLockKey(config.redis.prefix, profile), lock, (lease) => rebuildRegistry(deps, lease)));
  }
  return out;
}

function printRebuilds(rebuilt: readonly RegistryRebuild[]): void {
  const table = new Table({ head: ["profile", "manifests", "chunks", "indexed", "near-duplicates", "chunk store entries", "indexed, in no index", "time"], style: tableStyle() });
  for (const r of rebuilt) table.push([r.profile, r.manifests, r.chunks, r.canonical, r.nearDuplicates, r.chunkStoreEntries, r.notIndexed, formatDuration(r.ms)]);
  console.log(table.toString());
  if (rebuilt.some((r) => r.notIndexed > 0)) console.log("Some indexed chunks are in no index: `ragops reconcile --repair` writes them (from the embedding cache).");
}
