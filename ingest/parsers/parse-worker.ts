import { Worker } from "node:worker_threads";
import { isRagopsError } from "../../core/errors.js";
import { chunkDocument } from "../chunk-document.js";
import { parseDocument } from "./index.js";
import { MEMORY_MARKER, type ParseProcessMessage, type PrepareTask, type PreparedDocument } from "./parse-protocol.js";

/*
 * Process side of the parse pool (see isolated.ts): parses one document at a
 * time and chunks it, so neither runs on the ingest worker's event loop.
 * Errors travel as data, so their code and message survive the process
 * boundary.
 *
 * A watchdog thread bounds the memory a parse adds to this process: the JS
 * heap, and what resource limits cannot see (ArrayBuffers a PDF stream
 * inflates into, native buffers). The parsing thread may be stuck in one
 * synchronous decode, so the watchdog runs on a thread of its own, reads the
 * process's resident memory, and kills the process past the limit; the pool
 * tells the reason from the marker it writes first.
 */

/** The document parsed, and chunked with each config asked for. */
async function prepare(task: PrepareTask): Promise<PreparedDocument> {
  const bytes = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
  const parsed = await parseDocument(bytes, task.options);
  const meta = { ...task.meta, contentType: parsed.contentType };
  return {
    kind: parsed.kind,
    contentType: parsed.contentType,
    ...(parsed.title !== undefined ? { title: parsed.title } : {}),
    chunks: task.chunking.map((options) => chunkDocument(parsed, meta, options)),
  };
}

// Plain CommonJS so the watchdog starts without the TypeScript loader; it only reads memory and kills.
const WATCHDOG = `
const { parentPort, workerData } = require("node:worker_threads");
const { writeSync } = require("node:fs");
let limit = Infinity;
parentPort.on("message", (baseline) => { limit = baseline + workerData.maxBytes; });
setInterval(() => {
  if (process.memoryUsage.rss() <= limit) return;
  try { writeSync(2, ${JSON.stringify(`\n${MEMORY_MARKER}\n`)}); } finally { process.kill(process.pid, "SIGKILL"); }
}, workerData.intervalMs);
`;

/** A one-page PDF with one line of text, built with a correct cross-reference table. */
function tinyPdf(text: string): Buffer {
  const content = `BT /F1 12 Tf 72 720 Td (${text}) Tj ET`;
  const objects = [
    "<< /Type /Catalog /Pages 2 0 R >>",
    "<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
    "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>",
    "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    `<< /Length ${content.length} >>\nstream\n${content}\nendstream`,
  ];
  let pdf = "%PDF-1.4\n";
  const offsets = objects.map((body, i) => {
    const offset = pdf.length;
    pdf += `${i + 1} 0 obj\n${body}\nendobj\n`;
    return offset;
  });
  const xref = `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`).join("")}`;
  return Buffer.from(`${pdf}${xref}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${pdf.length}\n%%EOF\n`, "latin1");
}

/**
 * pdf.js loads its worker code and native canvas on the first PDF (some 250 MB
 * resident): done once, before the first PDF, so it counts as the process's
 * baseline and not against that document's memory limit. Processes that never
 * see a PDF never pay for it.
 */
async function warmUp(): Promise<void> {
  const bytes = tinyPdf("warm up");
  await prepare({ bytes, options: { filename: "warm-up.pdf" }, meta: { documentId: "warm-up", version: 1, source: "warm-up", tags: [] }, chunking: [] });
}

const looksLikePdf = (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, Math.min(bytes.byteLength, 1024)).includes("%PDF");

function main(): void {
  const maxBytes = Number(process.env.RAGOPS_PARSE_MAX_MEMORY_MB) * 1024 * 1024;
  const watchdog = new Worker(WATCHDOG, { eval: true, execArgv: [], workerData: { maxBytes, intervalMs: 10 } });
  watchdog.unref();
  let booted = process.memoryUsage.rss();
  let warm = false;
  const send = (message: ParseProcessMessage) => process.send?.(message);
  // The pool sends one task at a time and waits for its reply.
  process.on("message", async (task: PrepareTask) => {
    if (!warm && looksLikePdf(task.bytes)) {
      await warmUp().catch(() => undefined);
      warm = true;
      booted = process.memoryUsage.rss();
    }
    // Each parse may add the limit to what the process holds when it starts.
    watchdog.postMessage(process.memoryUsage.rss());
    try {
      send({ ok: true, prepared: await prepare(task), retire: retire(booted, maxBytes) });
    } catch (error) {
      send({
        ok: false,
        retire: retire(booted, maxBytes),
        error: isRagopsError(error)
          ? { name: error.name, code: error.code, message: error.message, retryable: error.retryable }
          : { name: (error as Error)?.name ?? "Error", message: (error as Error)?.message ?? String(error) },
      });
    }
  });
  process.on("disconnect", () => process.exit(0));
  send({ ready: true });
}

/** A process that kept much of what a parse grew to is replaced, so the next parse starts near the baseline. */
function retire(booted: number, maxBytes: number): boolean {
  return process.memoryUsage.rss() > booted + maxBytes / 2;
}

if (process.send && process.env.RAGOPS_PARSE_PROCESS === "1") main();
