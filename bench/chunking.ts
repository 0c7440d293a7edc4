/**
 * npm run bench:chunking
 *
 * Chunks the shared corpus before and after its edits with ragops, LangChain.js
 * RecursiveCharacterTextSplitter and LlamaIndex.TS SentenceSplitter (same size
 * and overlap in gpt-tokenizer tokens), and counts the chunks whose hash is new
 * after the edits: what each would have to embed again.
 */
import { RecursiveCharacterTextSplitter } from "@langchain/textsplitters";
import { SentenceSplitter } from "@llamaindex/core/node-parser";
import { encode, decode } from "gpt-tokenizer";
import { chunkDocument } from "../ingest/chunk-document.js";
import { contentHash } from "../ingest/normalize.js";
import { parseMarkdown } from "../ingest/parsers/markdown.js";
import { countTokens } from "../ingest/tokenizer.js";
import { applyEdits, corpusStats, generateCorpus, type CorpusDoc } from "./corpus.mjs";
import { machine, printTable, writeResults } from "./machine.js";

const SIZE = 512;
const OVERLAP_RATIO = 0.15;
const OVERLAP = Math.floor(SIZE * OVERLAP_RATIO);

type Chunker = { name: string; split: (doc: CorpusDoc) => Promise<string[]> };

const plain = { disallowedSpecial: new Set<string>(), allowedSpecial: new Set<string>() };
const chunkers: Chunker[] = [
  {
    name: "ragops (sections + content-defined windows)",
    split: async (doc) =>
      chunkDocument(parseMarkdown(Buffer.from(doc.text)), { documentId: doc.id, version: 1, source: doc.id, contentType: "text/markdown", tags: [] }, {
        sizeTokens: SIZE,
        overlapRatio: OVERLAP_RATIO,
        minSectionTokens: 64,
      }).map((c) => c.text),
  },
  (() => {
    const splitter = new RecursiveCharacterTextSplitter({ chunkSize: SIZE, chunkOverlap: OVERLAP, lengthFunction: (text: string) => countTokens(text) });
    return { name: "LangChain RecursiveCharacterTextSplitter", split: (doc: CorpusDoc) => splitter.splitText(doc.text) };
  })(),
  (() => {
    const tokenizer = { encode: (text: string) => new Uint32Array(encode(text, plain)), decode: (tokens: Uint32Array) => decode(Array.from(tokens)) };
    const splitter = new SentenceSplitter({ chunkSize: SIZE, chunkOverlap: OVERLAP, tokenizer });
    return { name: "LlamaIndex SentenceSplitter", split: async (doc: CorpusDoc) => splitter.splitText(doc.text) };
  })(),
];

interface Chunked {
  /** Hashes of each document's chunks, by document id. */
  byDocument: Map<string, string[]>;
  chunks: number;
  tokens: number;
  maxTokens: number;
  seconds: number;
}

async function chunkCorpus(chunker: Chunker, docs: CorpusDoc[]): Promise<Chunked> {
  const started = process.hrtime.bigint();
  const texts = new Map<string, string[]>();
  for (const doc of docs) texts.set(doc.id, await chunker.split(doc));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  // Token counts and hashes are measured outside the timed part, the same way for everyone.
  let tokens = 0;
  let maxTokens = 0;
  let chunks = 0;
  const byDocument = new Map<string, string[]>();
  for (const [id, list] of texts) {
    for (const text of list) {
      const n = countTokens(text);
      tokens += n;
      maxTokens = Math.max(maxTokens, n);
    }
    chunks += list.length;
    byDocument.set(id, list.map(contentHash));
  }
  return { byDocument, chunks, tokens, maxTokens, seconds };
}

async function main(): Promise<void> {
  const v1 = generateCorpus();
  const { docs: v2, edits } = applyEdits(v1);
  const edited = edits.inserted.length + edits.changed.length;
  const stats = { v1: corpusStats(v1), v2: corpusStats(v2) };
  console.log(`corpus v1 ${stats.v1.corpusSha256.slice(0, 8)}… (${stats.v1.docs} docs, ${stats.v1.words} words), v2 ${stats.v2.corpusSha256.slice(0, 8)}…`);
  console.log(`edits: ${edits.inserted.length} paragraphs inserted, ${edits.changed.length} words changed, ${edits.deleted.length} documents deleted; chunk size ${SIZE} tokens, overlap ${OVERLAP}`);
  const rows = [];
  for (const chunker of chunkers) {
    process.stderr.write(`  chunking with ${chunker.name}…\n`);
    const before = await chunkCorpus(chunker, v1);
    const after = await chunkCorpus(chunker, v2);
    const known = new Set([...before.byDocument.values()].flat());
    const seen = new Set<string>();
    const freshIn = (ids: string[]) => {
      let n = 0;
      for (const id of ids) {
        for (const hash of after.byDocument.get(id) ?? []) {
          if (known.has(hash) || seen.has(hash)) continue;
          seen.add(hash);
          n += 1;
        }
      }
      return n;
    };
    const afterInserts = freshIn(edits.inserted);
    const afterChanges = freshIn(edits.changed);
    const fresh = afterInserts + afterChanges + freshIn([...after.byDocument.keys()]);
    rows.push({
      chunker: chunker.name,
      chunks: before.chunks,
      meanTokens: Math.round(before.tokens / before.chunks),
      maxTokens: before.maxTokens,
      seconds: Number(before.seconds.toFixed(2)),
      chunksPerSecond: Math.round(before.chunks / before.seconds),
      newChunksAfterEdits: fresh,
      newPerEditedDocument: Number((fresh / edited).toFixed(2)),
      newPerInsertedParagraph: Number((afterInserts / edits.inserted.length).toFixed(2)),
      newPerChangedWord: Number((afterChanges / edits.changed.length).toFixed(2)),
    });
  }
  printTable(
    ["chunker", "chunks", "mean tokens", "max tokens", "time (s)", "chunks/s", "new chunks after edits", `new / edited doc (${edited})`, "per inserted paragraph", "per changed word"],
    rows.map((r) => [r.chunker, r.chunks, r.meanTokens, r.maxTokens, r.seconds, r.chunksPerSecond, r.newChunksAfterEdits, r.newPerEditedDocument, r.newPerInsertedParagraph, r.newPerChangedWord]),
  );
  const path = writeResults("chunking", { command: "npm run bench:chunking", corpus: stats, edits: { inserted: edits.inserted.length, changed: edits.changed.length, deleted: edits.deleted.length, edited }, sizeTokens: SIZE, overlapTokens: OVERLAP, rows });
  console.log(`figures written to ${path} (${machine().cpu}, ${machine().node})`);
}

await main();
