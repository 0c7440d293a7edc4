import { isRagopsError } from "../../src/errors.js";
import type { ParsedDocument } from "../types.js";
import { parseDocument, type ParseOptions } from "./index.js";

/** Thread side of the parse pool. Errors travel as data, so their code and message survive the thread boundary. */
export type ParseReply = { ok: true; parsed: ParsedDocument } | { ok: false; error: { name: string; code?: string; message: string; retryable?: boolean } };

export default async function parseInThread(task: { bytes: Uint8Array; options: ParseOptions }): Promise<ParseReply> {
  try {
    const bytes = Buffer.from(task.bytes.buffer, task.bytes.byteOffset, task.bytes.byteLength);
    return { ok: true, parsed: await parseDocument(bytes, task.options) };
  } catch (error) {
    return {
      ok: false,
      error: isRagopsError(error)
        ? { name: error.name, code: error.code, message: error.message, retryable: error.retryable }
        : { name: (error as Error)?.name ?? "Error", message: (error as Error)?.message ?? String(error) },
    };
  }
}
