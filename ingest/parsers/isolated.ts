import { Piscina } from "piscina";
import { RagopsError, UnprocessableDocumentError } from "../../src/errors.js";
import type { ParsedDocument } from "../types.js";
import type { ParseOptions } from "./index.js";
import type { ParseReply } from "./parse-worker.js";

/**
 * Parsing in a pool of worker threads with a time and memory limit per
 * document: a PDF that makes pdf.js spin, or a document that balloons, fails
 * its own job; the thread is replaced and nothing else is touched.
 */
export interface ParsePoolOptions {
  /** Threads, usually the worker's job concurrency. */
  threads: number;
  timeoutMs: number;
  maxMemoryMb: number;
}

export interface ParsePool {
  parse(bytes: Buffer, options: ParseOptions): Promise<ParsedDocument>;
  close(): Promise<void>;
}

const workerUrl = new URL(`./parse-worker.${import.meta.url.endsWith(".ts") ? "ts" : "js"}`, import.meta.url);

export function createParsePool(options: ParsePoolOptions): ParsePool {
  const pool = new Piscina({
    filename: workerUrl.href,
    // A source checkout runs TypeScript through tsx; the built package runs plain JS.
    execArgv: workerUrl.pathname.endsWith(".ts") ? ["--import", "tsx"] : [],
    minThreads: 0,
    maxThreads: options.threads,
    idleTimeout: 60_000,
    resourceLimits: { maxOldGenerationSizeMb: options.maxMemoryMb },
  });
  return {
    parse: async (bytes, parseOptions) => {
      // A copy the thread can own: the caller's Buffer may share a pooled ArrayBuffer.
      const owned = new Uint8Array(bytes);
      let reply: ParseReply;
      try {
        reply = (await pool.run({ bytes: owned, options: parseOptions }, { signal: AbortSignal.timeout(options.timeoutMs), transferList: [owned.buffer] })) as ParseReply;
      } catch (error) {
        throw explain(error, options);
      }
      if (reply.ok) return reply.parsed;
      if (reply.error.code) throw new RagopsError(reply.error.code as RagopsError["code"], reply.error.message, { retryable: reply.error.retryable ?? false });
      throw new Error(reply.error.message);
    },
    close: () => pool.destroy(),
  };
}

function explain(error: unknown, options: ParsePoolOptions): Error {
  const e = error as { name?: string; code?: string; message?: string };
  if (e?.name === "AbortError" || e?.name === "TimeoutError") {
    return new UnprocessableDocumentError(`parsing took longer than ${Math.round(options.timeoutMs / 1000)} s and was stopped (ingest.parseTimeoutMs)`);
  }
  if (e?.code === "ERR_WORKER_OUT_OF_MEMORY" || /out of memory/i.test(e?.message ?? "")) {
    return new UnprocessableDocumentError(`parsing needed more than ${options.maxMemoryMb} MB of memory and was stopped (ingest.parseMaxMemoryMb)`);
  }
  return error instanceof Error ? error : new Error(String(error));
}
