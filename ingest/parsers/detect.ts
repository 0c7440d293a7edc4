import { isUtf8 } from "node:buffer";
import { extname } from "node:path";
import { fileTypeFromBuffer } from "file-type";
import { UnprocessableDocumentError, UnsupportedMediaTypeError } from "../../core/errors.js";
import type { DocumentKind } from "../types.js";

/**
 * What a document really is, from its bytes first (magic numbers), then from
 * its name and declared type for the text formats bytes cannot tell apart.
 * Magic numbers are a few bytes; ordinary prose can start with them ("The
 * free…" has `free` at bytes 4–7, QuickTime's atom). So a document named or
 * declared as a text format whose bytes decode as text is that text; only a
 * PDF header, the one parseable format that may be pure ASCII, still wins.
 */
export const KIND_CONTENT_TYPES: Record<DocumentKind, string> = {
  pdf: "application/pdf",
  docx: "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
  html: "text/html",
  markdown: "text/markdown",
  text: "text/plain",
};

const EXTENSION_KINDS: Record<string, DocumentKind> = {
  ".pdf": "pdf",
  ".docx": "docx",
  ".html": "html",
  ".htm": "html",
  ".xhtml": "html",
  ".md": "markdown",
  ".markdown": "markdown",
  ".txt": "text",
  ".text": "text",
};

const DECLARED_KINDS: Record<string, DocumentKind> = {
  "application/pdf": "pdf",
  [KIND_CONTENT_TYPES.docx]: "docx",
  "text/html": "html",
  "application/xhtml+xml": "html",
  "text/markdown": "markdown",
  "text/x-markdown": "markdown",
  "text/plain": "text",
};

export const SUPPORTED_EXTENSIONS = Object.keys(EXTENSION_KINDS);
export const SUPPORTED_DESCRIPTION = "PDF (.pdf), Word (.docx), HTML (.html), Markdown (.md) and plain text (.txt)";

/** The kind a name or declared content type claims, without looking at bytes. */
export function claimedKind(filename: string | undefined, declared: string | undefined): DocumentKind | undefined {
  const byExtension = filename ? EXTENSION_KINDS[extname(filename).toLowerCase()] : undefined;
  return byExtension ?? DECLARED_KINDS[(declared ?? "").split(";")[0]?.trim().toLowerCase() ?? ""];
}

export async function detectKind(bytes: Buffer, claim: { filename?: string; contentType?: string }): Promise<DocumentKind> {
  if (bytes.length === 0) throw new UnprocessableDocumentError("the document is empty (0 bytes)");
  const claimed = claimedKind(claim.filename, claim.contentType);
  // A text BOM first: file-type reads UTF-16's FF FE as an MPEG frame.
  if (hasTextBom(bytes)) return claimed === "html" || claimed === "markdown" ? claimed : looksLikeHtml(bytes) ? "html" : "text";
  const sniffed = await fileTypeFromBuffer(bytes).catch(() => undefined);
  if (sniffed?.mime === "application/pdf") return "pdf";
  if (isTextClaim(claimed) && isUtf8Text(bytes)) return claimed === "text" && looksLikeHtml(bytes) ? "html" : claimed;
  const named = claim.filename ? `"${claim.filename}"` : "the document";
  if (sniffed?.ext === "docx") return "docx";
  // file-type names a DOCX only when its parts come in a certain order; a zip called .docx gets the DOCX parser, which checks it.
  if (sniffed?.ext === "zip" && claimed === "docx") return "docx";
  if (sniffed) {
    const expected = claimed ? ` (named as ${claimed.toUpperCase()})` : "";
    throw new UnsupportedMediaTypeError(`${named} is ${sniffed.mime} by its content${expected}; supported: ${SUPPORTED_DESCRIPTION}`);
  }
  if (claimed === "pdf") throw new UnprocessableDocumentError(`${named} is not a PDF: it does not start with a %PDF- header`);
  if (claimed === "docx") throw new UnprocessableDocumentError(`${named} is not a DOCX: it is not a zip container`);
  if (claimed === "html" || looksLikeHtml(bytes)) return "html";
  if (claimed === "markdown") return "markdown";
  return "text";
}

function isTextClaim(kind: DocumentKind | undefined): kind is "text" | "markdown" | "html" {
  return kind === "text" || kind === "markdown" || kind === "html";
}

/** Valid UTF-8 without NUL: what no binary format we know of is, and every text file in UTF-8 or ASCII is. */
function isUtf8Text(bytes: Buffer): boolean {
  return !bytes.includes(0) && isUtf8(bytes);
}

function hasTextBom(bytes: Buffer): boolean {
  return (bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) || (bytes[0] === 0xff && bytes[1] === 0xfe) || (bytes[0] === 0xfe && bytes[1] === 0xff);
}

function looksLikeHtml(bytes: Buffer): boolean {
  const head = bytes.subarray(0, 1024).toString("utf8").replace(/^\uFEFF/, "").trimStart().toLowerCase();
  return head.startsWith("<!doctype html") || head.startsWith("<html") || (head.startsWith("<?xml") && head.includes("<html"));
}
