/**
 * The peers the benchmarks run in their own process, on the same corpus and
 * with the same counting embedder as ragops: LangChain.js index() (cleanup
 * "incremental") and LlamaIndex.TS IngestionPipeline (docstore, UPSERTS).
 * Each peer keeps its state between runs, so a second run is a refresh.
 */
import { Document as LcDocument } from "@langchain/core/documents";
import { Embeddings } from "@langchain/core/embeddings";
import { index as lcIndex, RecordManager, type ListKeyOptions, type UpdateOptions } from "@langchain/core/indexing";
import { VectorStore } from "@langchain/core/vectorstores";
import { RecursiveCharacterTextSplitter } from "@langchain/textsplitters";
import { encode, decode } from "gpt-tokenizer";
import { BaseEmbedding, DocStoreStrategy, Document as LlDocument, IngestionPipeline, SentenceSplitter, SimpleDocumentStore, SimpleVectorStore } from "llamaindex";
import { countTokens } from "../ingest/tokenizer.js";
import { embedText } from "../indexer/embedders/offline-hashing.js";
import type { CorpusDoc } from "./corpus.mjs";

export const DIMENSIONS = 384;

/** The one embedder every system uses: ragops' offline embedder, counting the texts it is given. */
export const counter = { texts: 0 };
export const embed = (texts: readonly string[]) => {
  counter.texts += texts.length;
  return texts.map((t) => embedText(t, DIMENSIONS));
};

export async function timed<T>(fn: () => Promise<T>): Promise<{ value: T; seconds: number; embedded: number }> {
  const before = counter.texts;
  const started = process.hrtime.bigint();
  const value = await fn();
  return { value, seconds: Number(process.hrtime.bigint() - started) / 1e9, embedded: counter.texts - before };
}

/** What one run of a peer did. */
export interface PeerRun {
  seconds: number;
  embedded: number;
  written: number;
  removed: number;
  /** Chunks the peer's vector store holds after the run. */
  held: number;
}

export interface Peer {
  system: string;
  run(docs: readonly CorpusDoc[]): Promise<PeerRun>;
}

export interface ChunkSettings {
  sizeTokens: number;
  overlapTokens: number;
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

/** LangChain.js index() with RecursiveCharacterTextSplitter at the same token size, cleanup "incremental". */
export function langChainPeer(chunking: ChunkSettings): Peer {
  const splitter = new RecursiveCharacterTextSplitter({ chunkSize: chunking.sizeTokens, chunkOverlap: chunking.overlapTokens, lengthFunction: (t: string) => countTokens(t) });
  const recordManager = new MemoryRecordManager();
  const store = new CountingVectorStore(new CountingEmbeddings(), {});
  return {
    system: "LangChain.js index()",
    run: async (docs) => {
      const [w, r] = [store.written, store.removed];
      const { seconds, embedded } = await timed(async () => {
        const chunks = await splitter.splitDocuments(docs.map((d) => new LcDocument({ pageContent: d.text, metadata: { source: d.id } })));
        await lcIndex({ docsSource: chunks, recordManager, vectorStore: store, options: { cleanup: "incremental", sourceIdKey: "source" } });
      });
      return { seconds, embedded, written: store.written - w, removed: store.removed - r, held: store.size };
    },
  };
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

/** LlamaIndex.TS IngestionPipeline: SentenceSplitter (gpt-tokenizer) at the same token size, SimpleDocumentStore, UPSERTS, SimpleVectorStore. */
export function llamaIndexPeer(chunking: ChunkSettings): Peer {
  const plain = { disallowedSpecial: new Set<string>(), allowedSpecial: new Set<string>() };
  const tokenizer = { encode: (text: string) => new Uint32Array(encode(text, plain)), decode: (tokens: Uint32Array) => decode(Array.from(tokens)) };
  const embedModel = new CountingEmbedding();
  const vectorStore = new SimpleVectorStore({ embedModel });
  const counts = { written: 0, removed: 0 };
  const add = vectorStore.add.bind(vectorStore);
  vectorStore.add = async (nodes) => ((counts.written += nodes.length), add(nodes));
  const remove = vectorStore.delete.bind(vectorStore);
  // LlamaIndex deletes by document: one call removes all of one document's nodes.
  vectorStore.delete = async (refDocId: string) => ((counts.removed += 1), remove(refDocId));
  const pipeline = new IngestionPipeline({
    transformations: [new SentenceSplitter({ chunkSize: chunking.sizeTokens, chunkOverlap: chunking.overlapTokens, tokenizer }), embedModel],
    docStore: new SimpleDocumentStore(),
    vectorStore,
    docStoreStrategy: DocStoreStrategy.UPSERTS,
  });
  return {
    system: "LlamaIndex.TS IngestionPipeline",
    run: async (docs) => {
      const [w, r] = [counts.written, counts.removed];
      const { seconds, embedded } = await timed(() => pipeline.run({ documents: docs.map((d) => new LlDocument({ text: d.text, id_: d.id })) }));
      return { seconds, embedded, written: counts.written - w, removed: counts.removed - r, held: Object.keys(vectorStore.toDict().embeddingDict).length };
    },
  };
}
