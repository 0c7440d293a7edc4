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
import { Document as LcDocument } from "@langchain/core/documents";
import { Embeddings } from "@langchain/core/embeddings";
import { index as lcIndex, RecordManager, type ListKeyOptions, type UpdateOptions } from "@langchain/core/indexing";
import { VectorStore } from "@langchain/core/vectorstores";
import { RecursiveCharacterTextSplitter } from "@langchain/textsplitters";
import { encode, decode } from "gpt-tokenizer";
import { BaseEmbedding, DocStoreStrategy, Document as LlDocument, IngestionPipeline, SentenceSplitter, SimpleDocumentStore, SimpleVectorStore } from "llamaindex";
import { loadConfig } from "../config/load.js";
import { countTokens } from "../ingest/tokenizer.js";
import type { Embedder } from "../indexer/embedders/embedder.js";
import { createEmbedder } from "../indexer/embedders/index.js";
import { embedText } from "../indexer/embedders/offline-hashing.js";
import { ensureRedis } from "../src/dev/local-redis.js";
import { createIngestQueueEvents } from "../src/queues/ingest-queue.js";
import { openRuntime } from "../src/runtime.js";
import { createLocalDirSource } from "../src/sources/local-dir.js";
import { runRefresh } from "../src/documents/refresh.js";
import { startWorkers } from "../src/worker/worker.js";
import { applyEdits, corpusStats, generateCorpus, type CorpusDoc } from "./corpus.mjs";
import { machine, printTable, writeResults } from "./machine.js";

const SIZE = 512;
const OVERLAP = Math.floor(SIZE * 0.15);
const DIMENSIONS = 384;

interface Step {
  system: string;
  step: "first ingest" | "refresh after edits" | "refresh, nothing changed";
  embedded: number;
  written: number;
  removed: number;
  seconds: number;
  chunks?: number;
}

/** The one embedder all three use: ragops' offline embedder, counting the texts it is given. */
const counter = { texts: 0 };
const embed = (texts: readonly string[]) => {
  counter.texts += texts.length;
  return texts.map((t) => embedText(t, DIMENSIONS));
};

async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; embedded: number }> {
  const before = counter.texts;
  const started = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - started) / 1e9, embedded: counter.texts - before };
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

// ---------------------------------------------------------------- LangChain.js index()
class CountingEmbeddings extends Embeddings {
  constructor() {
    super({});
  }
  async embedDocuments(texts: string[]): Promise<number[][]> {
    return embed(texts).map((v) => Array.from(v));
  }
  async embedQuery(text: string): Promise<number[]> {
    return Array.from(embedText(text, DIMENSIONS));
  }
}

/** An in-memory RecordManager (the behaviour of @langchain/community's, which cannot be installed here beside zod 4). */
class MemoryRecordManager extends RecordManager {
  override lc_namespace = ["bench", "record_manager"];
  private records = new Map<string, { updatedAt: number; groupId: string | null }>();
  async createSchema(): Promise<void> {}
  async getTime(): Promise<number> {
    return Date.now();
  }
  async update(keys: string[], options: UpdateOptions = {}): Promise<void> {
    const now = await this.getTime();
    if (options.timeAtLeast && now < options.timeAtLeast) throw new Error("time went backwards");
    keys.forEach((key, i) => this.records.set(key, { updatedAt: now, groupId: options.groupIds?.[i] ?? null }));
  }
  async exists(keys: string[]): Promise<boolean[]> {
    return keys.map((k) => this.records.has(k));
  }
  async listKeys(options: ListKeyOptions = {}): Promise<string[]> {
    const out: string[] = [];
    for (const [key, r] of this.records) {
      if (options.before !== undefined && r.updatedAt >= options.before) continue;
      if (options.after !== undefined && r.updatedAt <= options.after) continue;
      if (options.groupIds && !options.groupIds.includes(r.groupId)) continue;
      out.push(key);
      if (options.limit && out.length >= options.limit) break;
    }
    return out;
  }
  async deleteKeys(keys: string[]): Promise<void> {
    for (const key of keys) this.records.delete(key);
  }
}

/** A vector store that keeps the ids index() passes and can delete them (MemoryVectorStore does neither). */
class CountingVectorStore extends VectorStore {
  written = 0;
  removed = 0;
  private vectors = new Map<string, { vector: number[]; doc: LcDocument }>();
  _vectorstoreType(): string {
    return "counting-memory";
  }
  async addDocuments(documents: LcDocument[], options?: { ids?: string[] }): Promise<string[]> {
    return this.addVectors(await this.embeddings.embedDocuments(documents.map((d) => d.pageContent)), documents, options);
  }
  async addVectors(vectors: number[][], documents: LcDocument[], options?: { ids?: string[] }): Promise<string[]> {
    const ids = options?.ids ?? documents.map((_, i) => `${this.vectors.size + i}`);
    ids.forEach((id, i) => this.vectors.set(id, { vector: vectors[i] as number[], doc: documents[i] as LcDocument }));
    this.written += ids.length;
    return ids;
  }
  override async delete(params: { ids: string[] }): Promise<void> {
    for (const id of params.ids) if (this.vectors.delete(id)) this.removed += 1;
  }
  async similaritySearchVectorWithScore(): Promise<[LcDocument, number][]> {
    return [];
  }
  get size(): number {
    return this.vectors.size;
  }
}

async function runLangChain(v1: CorpusDoc[], v2: CorpusDoc[]): Promise<Step[]> {
  const splitter = new RecursiveCharacterTextSplitter({ chunkSize: SIZE, chunkOverlap: OVERLAP, lengthFunction: (t: string) => countTokens(t) });
  const recordManager = new MemoryRecordManager();
  const store = new CountingVectorStore(new CountingEmbeddings(), {});
  const steps: Step[] = [];
  const run = async (docs: CorpusDoc[], step: Step["step"]) => {
    const [w, r] = [store.written, store.removed];
    const { seconds, embedded } = await timed(async () => {
      const chunks = await splitter.splitDocuments(docs.map((d) => new LcDocument({ pageContent: d.text, metadata: { source: d.id } })));
      await lcIndex({ docsSource: chunks, recordManager, vectorStore: store, options: { cleanup: "incremental", sourceIdKey: "source" } });
    });
    steps.push({ system: "LangChain.js index()", step, embedded, written: store.written - w, removed: store.removed - r, seconds });
  };
  await run(v1, "first ingest");
  (steps[0] as Step).chunks = store.size;
  await run(v2, "refresh after edits");
  await run(v2, "refresh, nothing changed");
  return steps;
}

// ---------------------------------------------------------------- LlamaIndex.TS IngestionPipeline
class CountingEmbedding extends BaseEmbedding {
  constructor() {
    super();
  }
  async getTextEmbedding(text: string): Promise<number[]> {
    return Array.from(embed([text])[0] as Float32Array);
  }
  override getTextEmbeddings = async (texts: string[]): Promise<number[][]> => embed(texts).map((v) => Array.from(v));
}

async function runLlamaIndex(v1: CorpusDoc[], v2: CorpusDoc[]): Promise<Step[]> {
  const plain = { disallowedSpecial: new Set<string>(), allowedSpecial: new Set<string>() };
  const tokenizer = { encode: (text: string) => new Uint32Array(encode(text, plain)), decode: (tokens: Uint32Array) => decode(Array.from(tokens)) };
  const embedModel = new CountingEmbedding();
  const vectorStore = new SimpleVectorStore({ embedModel });
  const counts = { written: 0, removed: 0 };
  const add = vectorStore.add.bind(vectorStore);
  vectorStore.add = async (nodes) => ((counts.written += nodes.length), add(nodes));
  const remove = vectorStore.delete.bind(vectorStore);
  vectorStore.delete = async (refDocId: string) => ((counts.removed += 1), remove(refDocId));
  const pipeline = new IngestionPipeline({
    transformations: [new SentenceSplitter({ chunkSize: SIZE, chunkOverlap: OVERLAP, tokenizer }), embedModel],
    docStore: new SimpleDocumentStore(),
    vectorStore,
    docStoreStrategy: DocStoreStrategy.UPSERTS,
  });
  const steps: Step[] = [];
  const run = async (docs: CorpusDoc[], step: Step["step"]) => {
    const [w, r] = [counts.written, counts.removed];
    const { seconds, embedded } = await timed(() => pipeline.run({ documents: docs.map((d) => new LlDocument({ text: d.text, id_: d.id })) }));
    steps.push({ system: "LlamaIndex.TS IngestionPipeline", step, embedded, written: counts.written - w, removed: counts.removed - r, seconds });
  };
  await run(v1, "first ingest");
  (steps[0] as Step).chunks = (steps[0] as Step).written;
  await run(v2, "refresh after edits");
  await run(v2, "refresh, nothing changed");
  return steps;
}

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
  const get = (system: string, step: Step["step"]) => steps.find((s) => s.system.startsWith(system) && s.step === step) as Step;
  const ragopsB = get("ragops", "refresh after edits");
  const ragopsC = get("ragops", "refresh, nothing changed");
  const langchainC = get("LangChain", "refresh, nothing changed");
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
