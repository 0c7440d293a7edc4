// Types for the shared corpus generator (bench/corpus.mjs, copied unchanged from ../shared/bench).
export interface CorpusDoc {
  id: string;
  text: string;
}
export interface CorpusEdits {
  inserted: string[];
  changed: string[];
  deleted: string[];
  details: Record<string, { kind: "insert" | "change"; [key: string]: unknown }>;
}
export const DEFAULTS: Readonly<Record<string, number>>;
export function generateCorpus(opts?: Record<string, number>): CorpusDoc[];
export function applyEdits(corpus: CorpusDoc[], opts?: Record<string, number>): { docs: CorpusDoc[]; edits: CorpusEdits };
export function corpusStats(docs: CorpusDoc[]): { docs: number; words: number; chars: number; corpusSha256: string };
export function sha256(text: string): string;
export function mulberry32(seed: number): () => number;
