/**
 * npm run bench:incremental
 *
 * The shared corpus ingested, refreshed after its edits, and refreshed again
 * with nothing changed, by ragops (its real pipeline: object store, Redis,
 * LanceDB, worker, `ragops refresh` on a folder), LangChain.js index() (cleanup
 * "incremental") and LlamaIndex.TS IngestionPipeline (docstore, UPSERTS). All
 * three embed with the same counting offline embedder.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadConfig } from "../config/load.js";
import type { Embedder } from "../indexer/embedders/embedder.js";
import { createEmbedder } from "../indexer/embedders/index.js";
import { ensureRedis } from "../src/dev/local-redis.js";
import { createIngestQueueEvents } from "../src/queues/ingest-queue.js";
import { openRuntime } from "../src/runtime.js";
import { createLocalDirSource } from "../src/sources/local-dir.js";
import { runRefresh } from "../src/documents/refresh.js";
import { startWorkers } from "../src/worker/worker.js";
import { applyEdits, corpusStats, generateCorpus, type CorpusDoc } from "./corpus.mjs";
import { machine, printTable, writeResults } from "./machine.js";
import { embed, langChainPeer, llamaIndexPeer, timed, type Peer } from "./peers.js";

const SIZE = 512;
const OVERLAP = Math.floor(SIZE * 0.15);

interface Step {
  system: string;
  step: "first ingest" | "refresh after edits" | "refresh, nothing changed";
  embedded: number;
  written: number;
  removed: number;
  seconds: number;
  chunks?: number;
}

// ---------------------------------------------------------------- ragops
async function runRagops(v1: CorpusDoc[], v2: CorpusDoc[]): Promise<Step[]> {
  const root = mkdtempSync(join(tmpdir(), "ragops-bench-"));
  const folder = join(root, "source");
  mkdirSync(folder);
  for (const doc of v1) writeFileSync(join(folder, doc.id), doc.text);
  const redis = await ensureRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:1", { dir: join(root, "redis"), preferUrlPort: false });
  const config = loadConfig({ env: {}, overrides: { dataDir: join(root, "data"), redis: { url: redis.url, prefix: `bench${process.pid}` }, log: { level: "silent" } } });
  const runtime = await openRuntime(config, {
    embedderFor: (embedderConfig): Embedder => ({ identity: createEmbedder(embedderConfig).identity, embed: async (texts) => embed(texts) }),
  });
  const worker = await startWorkers(runtime);
  const events = await createIngestQueueEvents(config);
  const steps: Step[] = [];
  try {
    const refresh = async (step: Step["step"]) => {
      const source = await createLocalDirSource(folder);
      const { value, seconds, embedded } = await timed(() => runRefresh(runtime, source, { events }));
      if (value.failed) throw new Error(`ragops refresh failed: ${JSON.stringify(value.details.failures.slice(0, 3))}`);
      steps.push({ system: "ragops", step, embedded, written: value.indexWrites + value.metadataWrites, removed: value.indexRemovals, seconds });
    };
    await refresh("first ingest");
    (steps[0] as Step).chunks = await (await runtime.index()).count();
    // Apply the edits to the folder as an editor would: only edited files are rewritten.
    const before = new Map(v1.map((d) => [d.id, d.text]));
    for (const doc of v2) if (before.get(doc.id) !== doc.text) writeFileSync(join(folder, doc.id), doc.text);
    for (const doc of v1) if (!v2.some((d) => d.id === doc.id)) rmSync(join(folder, doc.id));
    await refresh("refresh after edits");
    await refresh("refresh, nothing changed");
  } finally {
    await events.close();
    await worker.close();
    await runtime.queue.obliterate({ force: true }).catch(() => undefined);
    await runtime.close();
    await redis.stop();
    rmSync(root, { recursive: true, force: true });
  }
  return steps;
}

// ---------------------------------------------------------------- the peers (./peers.ts)
async function runPeer(peer: Peer, v1: CorpusDoc[], v2: CorpusDoc[]): Promise<Step[]> {
  const steps: Step[] = [];
  for (const [docs, step] of [[v1, "first ingest"], [v2, "refresh after edits"], [v2, "refresh, nothing changed"]] as const) {
    const { seconds, embedded, written, removed, held } = await peer.run(docs);
    steps.push({ system: peer.system, step, embedded, written, removed, seconds, ...(step === "first ingest" ? { chunks: held } : {}) });
  }
  return steps;
}

const runLangChain = (v1: CorpusDoc[], v2: CorpusDoc[]) => runPeer(langChainPeer({ sizeTokens: SIZE, overlapTokens: OVERLAP }), v1, v2);
const runLlamaIndex = (v1: CorpusDoc[], v2: CorpusDoc[]) => runPeer(llamaIndexPeer({ sizeTokens: SIZE, overlapTokens: OVERLAP }), v1, v2);

async function main(): Promise<void> {
  const v1 = generateCorpus();
  const { docs: v2, edits } = applyEdits(v1);
  const edited = edits.inserted.length + edits.changed.length;
  const stats = { v1: corpusStats(v1), v2: corpusStats(v2) };
  console.log(`corpus v1 ${stats.v1.corpusSha256.slice(0, 8)}… (${stats.v1.docs} docs), v2 ${stats.v2.corpusSha256.slice(0, 8)}…; edits: ${edits.inserted.length} inserted paragraphs, ${edits.changed.length} changed words, ${edits.deleted.length} deleted documents`);
  const steps: Step[] = [];
  for (const [name, run] of [
    ["ragops", runRagops],
    ["LangChain.js", runLangChain],
    ["LlamaIndex.TS", runLlamaIndex],
  ] as const) {
    if (process.env.BENCH_ONLY && !name.toLowerCase().startsWith(process.env.BENCH_ONLY.toLowerCase())) continue;
    process.stderr.write(`  running ${name}…\n`);
    steps.push(...(await run(v1, v2)));
  }
  printTable(
    ["system", "step", "texts embedded", "datapoints written", "removed", "wall time (s)", "chunks/s"],
    steps.map((s) => [s.system, s.step, s.embedded, s.written, s.removed, s.seconds.toFixed(3), s.chunks ? Math.round(s.chunks / s.seconds) : ""]),
  );
  const get = (system: string, step: Step["step"]) => steps.find((s) => s.system.startsWith(system) && s.step === step);
  const ragopsB = get("ragops", "refresh after edits");
  const ragopsC = get("ragops", "refresh, nothing changed");
  const langchainC = get("LangChain", "refresh, nothing changed");
  if (!ragopsB || !ragopsC || !langchainC) {
    // BENCH_ONLY left out ragops or LangChain: the targets compare the two, and a partial run must not replace the recorded figures.
    console.log(`targets not checked and bench/results/incremental.json left as it was: BENCH_ONLY=${process.env.BENCH_ONLY ?? ""} ran ${[...new Set(steps.map((s) => s.system))].join(", ") || "nothing"}`);
    return;
  }
  const targets = {
    embeddedPerEditedDocument: Number((ragopsB.embedded / edited).toFixed(2)),
    noChangeEmbedded: ragopsC.embedded,
    noChangeWrites: ragopsC.written + ragopsC.removed,
    noChangeSpeedupVsLangChain: Number((langchainC.seconds / ragopsC.seconds).toFixed(1)),
  };
  console.log(
    `ragops: after the edits ${ragopsB.embedded} texts embedded for ${edited} edited documents (${targets.embeddedPerEditedDocument} per document, target ≤ 1.2); ` +
      `with nothing changed ${targets.noChangeEmbedded} embedded and ${targets.noChangeWrites} index writes, ${targets.noChangeSpeedupVsLangChain}× faster than LangChain index() (target ≥ 5×)`,
  );
  const path = writeResults("incremental", { command: "npm run bench:incremental", corpus: stats, edits: { inserted: edits.inserted.length, changed: edits.changed.length, deleted: edits.deleted.length, edited }, sizeTokens: SIZE, overlapTokens: OVERLAP, steps, targets });
  console.log(`figures written to ${path} (${machine().cpu}, ${machine().node})`);
}

await main();
