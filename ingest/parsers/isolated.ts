import { fork, type ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { RagopsError, UnprocessableDocumentError } from "../../core/errors.js";
import type { ChunkingOptions, DocumentMeta } from "../types.js";
import type { ParseOptions } from "./index.js";
import { MEMORY_MARKER, type ParseProcessMessage, type PrepareReply, type PrepareTask, type PreparedDocument } from "./parse-protocol.js";

export type { PreparedDocument } from "./parse-protocol.js";

/**
 * Parsing and chunking in a pool of child processes, one document per process
 * at a time, with a time and a memory limit per document. A PDF that makes
 * pdf.js spin, or a document that balloons (in the JS heap or in the buffers
 * a compressed stream inflates into), fails its own job; its process is
 * replaced and nothing else is touched. The ingest worker's event loop only
 * ever waits for the answer, so its job locks are renewed and its HTTP
 * requests answered while a 45 MB text is chunked.
 *
 * Processes rather than worker threads: a thread's resource limits bound its
 * JS heap only, and nothing in one process can stop a thread that is stuck
 * allocating ArrayBuffers; a process's whole memory can be watched and killed.
 */
export interface ParsePoolOptions {
  /** Parse processes, usually the worker's job concurrency. */
  processes: number;
  timeoutMs: number;
  /** Memory one parse may add to its process (heap and buffers together), MB. */
  maxMemoryMb: number;
  /** A process idle this long exits; the next parse starts a new one, ms. @defaultValue 60000 */
  idleTimeoutMs?: number;
}

export interface PrepareRequest extends ParseOptions {
  /** Chunk metadata; the content type is the parsed one. */
  meta: Omit<DocumentMeta, "contentType">;
  /** One chunk list comes back per config, in this order (none: parse only). */
  chunking: readonly ChunkingOptions[];
}

export interface ParsePool {
  /** The document parsed and chunked with each config. */
  prepare(bytes: Buffer, request: PrepareRequest): Promise<PreparedDocument>;
  close(): Promise<void>;
}

const source = import.meta.url.endsWith(".ts");
/** Longest a parse process may take to load its parsers and warm up, ms. */
const STARTUP_TIMEOUT_MS = 120_000;
const entry = fileURLToPath(new URL(`./parse-worker.${source ? "ts" : "js"}`, import.meta.url));

interface Lane {
  child?: Spawned;
  busy: boolean;
  idleTimer?: NodeJS.Timeout;
}

interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

interface Spawned {
  process: ChildProcess;
  ready: Promise<void>;
  /** The end of its stderr, to tell why it died. */
  stderr: string;
  /** Set when the pool itself ends it. */
  stopping: boolean;
  exited: Promise<Exit>;
}

interface Waiting {
  task: PrepareTask;
  resolve: (prepared: PreparedDocument) => void;
  reject: (error: unknown) => void;
}

export function createParsePool(options: ParsePoolOptions): ParsePool {
  const lanes: Lane[] = Array.from({ length: Math.max(1, options.processes) }, () => ({ busy: false }));
  const queue: Waiting[] = [];
  let closed = false;

  const pump = () => {
    for (const lane of lanes) {
      if (lane.busy || closed) continue;
      const next = queue.shift();
      if (!next) return;
      lane.busy = true;
      clearTimeout(lane.idleTimer);
      runOn(lane, next.task, options).then(next.resolve, next.reject).finally(() => {
        lane.busy = false;
        if (lane.child) lane.idleTimer = setTimeout(() => stop(lane), options.idleTimeoutMs ?? 60_000).unref();
        pump();
      });
    }
  };

  return {
    prepare: (bytes, request) => {
      if (closed) return Promise.reject(new RagopsError("unavailable", "the parse pool is closed", { retryable: true }));
      const { meta, chunking, ...parseOptions } = request;
      // A copy of only these bytes: the caller's Buffer may be a view of a larger pooled ArrayBuffer.
      const task: PrepareTask = { bytes: new Uint8Array(bytes), options: parseOptions, meta, chunking: [...chunking] };
      return new Promise<PreparedDocument>((resolve, reject) => {
        queue.push({ task, resolve, reject });
        pump();
      });
    },
    close: async () => {
      closed = true;
      for (const waiting of queue.splice(0)) waiting.reject(new RagopsError("unavailable", "the parse pool closed before this document was parsed", { retryable: true }));
      await Promise.all(lanes.map((lane) => stop(lane)));
    },
  };
}

async function runOn(lane: Lane, task: PrepareTask, options: ParsePoolOptions): Promise<PreparedDocument> {
  lane.child ??= spawn(options);
  const child = lane.child;
  try {
    await child.ready;
  } catch (error) {
    lane.child = undefined;
    throw error;
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.process.kill("SIGKILL");
  }, options.timeoutMs);
  child.process.channel?.ref();
  try {
    const replied = new Promise<PrepareReply>((resolve) => child.process.once("message", resolve));
    child.process.send(task, () => undefined); // a send to a process that just died shows as its exit
    const outcome = await Promise.race([replied.then((reply) => ({ reply })), child.exited.then((exit) => ({ exit }))]);
    if ("exit" in outcome) {
      lane.child = undefined;
      throw whyItDied(outcome.exit, child, timedOut, options);
    }
    const { reply } = outcome;
    if (reply.retire) await stop(lane);
    if (reply.ok) return reply.prepared;
    if (reply.error.code) throw new RagopsError(reply.error.code as RagopsError["code"], reply.error.message, { retryable: reply.error.retryable ?? false });
    throw new Error(reply.error.message);
  } finally {
    clearTimeout(timer);
    child.process.channel?.unref();
  }
}

function spawn(options: ParsePoolOptions): Spawned {
  const child = fork(entry, [], {
    // A source checkout runs TypeScript through tsx; the built package runs plain JS.
    execArgv: source ? ["--import", "tsx"] : [],
    env: { ...process.env, RAGOPS_PARSE_PROCESS: "1", RAGOPS_PARSE_MAX_MEMORY_MB: String(options.maxMemoryMb) },
    serialization: "advanced",
    stdio: ["ignore", "ignore", "pipe", "ipc"],
  });
  child.unref();
  child.on("error", () => undefined); // a failed spawn or send ends in "close" too
  const exited = new Promise<Exit>((resolve) => child.once("close", (code, signal) => resolve({ code, signal })));
  const spawned: Spawned = {
    process: child,
    stderr: "",
    stopping: false,
    exited,
    ready: new Promise<void>((resolve, reject) => {
      // A process that never comes up must not hold its lane for ever; its job retries.
      const startup = setTimeout(() => child.kill("SIGKILL"), STARTUP_TIMEOUT_MS).unref();
      child.once("message", (message: ParseProcessMessage) => {
        clearTimeout(startup);
        if ("ready" in message) resolve();
        else reject(new Error("the parse process answered before it was ready"));
      });
      void exited.then((exit) => {
        clearTimeout(startup);
        reject(new RagopsError("unavailable", `the parse process could not start (${exit.code ?? exit.signal}): ${spawned.stderr.trim().slice(-500)}`, { retryable: true }));
      });
    }),
  };
  child.stderr?.on("data", (data: Buffer) => {
    spawned.stderr = (spawned.stderr + data.toString("utf8")).slice(-4096);
  });
  return spawned;
}

/** Ends a lane's process (idle, retired, or the pool closing) and waits for it to go. */
async function stop(lane: Lane): Promise<void> {
  clearTimeout(lane.idleTimer);
  const child = lane.child;
  lane.child = undefined;
  if (!child) return;
  child.stopping = true;
  child.process.kill("SIGKILL");
  await child.exited;
}

function whyItDied(exit: Exit, child: Spawned, timedOut: boolean, options: ParsePoolOptions): Error {
  if (timedOut) return new UnprocessableDocumentError(`parsing took longer than ${Math.round(options.timeoutMs / 1000)} s and was stopped (ingest.parseTimeoutMs)`);
  if (child.stopping) return new RagopsError("unavailable", "the parse pool closed while this document was parsed", { retryable: true });
  // The watchdog's marker, V8's heap limit, or a kill nobody here sent (the kernel's OOM killer): all memory.
  if (child.stderr.includes(MEMORY_MARKER) || /heap out of memory|reached heap limit/i.test(child.stderr) || exit.signal === "SIGKILL") {
    return new UnprocessableDocumentError(`the document expands past ${options.maxMemoryMb} MB in memory while parsing and was stopped (ingest.parseMaxMemoryMb)`);
  }
  return new Error(`the parse process stopped unexpectedly (${exit.code ?? exit.signal}): ${child.stderr.trim().slice(-500)}`);
}
