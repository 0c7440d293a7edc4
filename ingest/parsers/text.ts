import { UnprocessableDocumentError } from "../../core/errors.js";
import type { ParsedDocument } from "../types.js";
import { createDocumentBuilder } from "./builder.js";

/**
 * Plain text: encoding detected (UTF-8, UTF-16 with or without BOM,
 * Windows-1252/Latin-1 fallback), binary junk rejected, paragraphs by blank lines.
 */
export function decodeText(bytes: Buffer): { text: string; encoding: string } {
  if (bytes.length === 0) throw new UnprocessableDocumentError("the document is empty (0 bytes)");
  let decoded: { text: string; encoding: string };
  if (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) decoded = { text: new TextDecoder("utf-8").decode(bytes.subarray(3)), encoding: "utf-8" };
  else if (bytes[0] === 0xff && bytes[1] === 0xfe) decoded = { text: new TextDecoder("utf-16le").decode(bytes.subarray(2)), encoding: "utf-16le" };
  else if (bytes[0] === 0xfe && bytes[1] === 0xff) decoded = { text: new TextDecoder("utf-16be").decode(bytes.subarray(2)), encoding: "utf-16be" };
  else decoded = decodeWithoutBom(bytes);
  const text = decoded.text.replace(/\r\n?/g, "\n");
  rejectBinary(text);
  return { text, encoding: decoded.encoding };
}

function decodeWithoutBom(bytes: Buffer): { text: string; encoding: string } {
  const utf16 = guessUtf16(bytes);
  if (utf16) return { text: new TextDecoder(utf16).decode(bytes), encoding: utf16 };
  try {
    return { text: new TextDecoder("utf-8", { fatal: true }).decode(bytes), encoding: "utf-8" };
  } catch {
    return { text: new TextDecoder("windows-1252").decode(bytes), encoding: "windows-1252" };
  }
}

/** ASCII-heavy UTF-16 without a BOM has a zero in every other byte. */
function guessUtf16(bytes: Buffer): "utf-16le" | "utf-16be" | undefined {
  const sample = bytes.subarray(0, Math.min(bytes.length, 4096));
  if (sample.length < 4) return undefined;
  let evenZeros = 0;
  let oddZeros = 0;
  for (let i = 0; i + 1 < sample.length; i += 2) {
    if (sample[i] === 0) evenZeros += 1;
    if (sample[i + 1] === 0) oddZeros += 1;
  }
  const pairs = Math.floor(sample.length / 2);
  if (oddZeros > pairs * 0.4 && evenZeros < pairs * 0.05) return "utf-16le";
  if (evenZeros > pairs * 0.4 && oddZeros < pairs * 0.05) return "utf-16be";
  return undefined;
}

function rejectBinary(text: string): void {
  if (text.includes("\u0000")) throw new UnprocessableDocumentError("the document contains NUL bytes: binary data, not text");
  let control = 0;
  for (const char of text) {
    const code = char.codePointAt(0) ?? 0;
    if ((code < 32 && code !== 9 && code !== 10 && code !== 12 && code !== 13) || code === 0x7f || code === 0xfffd) control += 1;
  }
  if (control > Math.max(2, text.length * 0.01)) {
    throw new UnprocessableDocumentError(`the document looks like binary data, not text (${((100 * control) / text.length).toFixed(1)}% control or undecodable characters)`);
  }
  if (!text.trim()) throw new UnprocessableDocumentError("the document has no text (only whitespace)");
}

export function parseText(bytes: Buffer): ParsedDocument {
  const { text } = decodeText(bytes);
  const builder = createDocumentBuilder();
  for (const paragraph of text.split(/\n[ \t]*\n/)) builder.block(paragraph);
  const firstLine = text.trim().split("\n", 1)[0]?.trim() ?? "";
  return builder.build({ kind: "text", contentType: "text/plain", title: firstLine.length <= 120 ? firstLine : undefined, declared: {} });
}
