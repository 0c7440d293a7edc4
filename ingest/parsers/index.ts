import type { DocumentKind, ParsedDocument } from "../types.js";
import { detectKind } from "./detect.js";
import type { ZipLimits } from "./zip-guard.js";

export { SUPPORTED_DESCRIPTION, SUPPORTED_EXTENSIONS, claimedKind, detectKind, KIND_CONTENT_TYPES } from "./detect.js";

export interface ParseOptions {
  filename?: string;
  contentType?: string;
  zipLimits?: ZipLimits;
}

/** Bytes to sections: detect the type from the bytes, then run that format's parser. */
export async function parseDocument(bytes: Buffer, options: ParseOptions = {}): Promise<ParsedDocument> {
  const kind = await detectKind(bytes, options);
  return parseAs(kind, bytes, options);
}

// Each format's parser loads on its first document (pdf.js alone takes half a second): a parse process that only sees Markdown starts faster.
async function parseAs(kind: DocumentKind, bytes: Buffer, options: ParseOptions = {}): Promise<ParsedDocument> {
  switch (kind) {
    case "pdf":
      return (await import("./pdf.js")).parsePdf(bytes);
    case "docx":
      return (await import("./docx.js")).parseDocx(bytes, options.zipLimits);
    case "html":
      return (await import("./html.js")).parseHtml(bytes);
    case "markdown":
      return (await import("./markdown.js")).parseMarkdown(bytes);
    case "text":
      return (await import("./text.js")).parseText(bytes);
  }
}
