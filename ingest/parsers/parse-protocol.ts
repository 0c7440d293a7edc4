import type { Chunk, ChunkingOptions, DocumentKind, DocumentMeta } from "../types.js";
import type { ParseOptions } from "./index.js";

/**
 * What the parse pool (isolated.ts) and its processes (parse-worker.ts) say to
 * each other. A file of its own so the pool's side loads no parser.
 */
export interface PrepareTask {
  bytes: Uint8Array;
  options: ParseOptions;
  /** Chunk metadata; the content type is the parsed one. */
  meta: Omit<DocumentMeta, "contentType">;
  /** One chunk list per config, in this order. */
  chunking: ChunkingOptions[];
}

export interface PreparedDocument {
  kind: DocumentKind;
  /** Canonical content type of what was parsed. */
  contentType: string;
  title?: string;
  /** The document's chunks for each requested chunking config, in the order asked. */
  chunks: Chunk[][];
}

export type PrepareReply =
  | { ok: true; prepared: PreparedDocument; retire: boolean }
  | { ok: false; error: { name: string; code?: string; message: string; retryable?: boolean }; retire: boolean };

export type ParseProcessMessage = { ready: true } | PrepareReply;

export const MEMORY_MARKER = "ragops-parse: memory limit reached";

