import type { DocumentKind, ParsedDocument } from "../types.js";
import { detectKind } from "./detect.js";
import { parseDocx } from "./docx.js";
import { parseHtml } from "./html.js";
import { parseMarkdown } from "./markdown.js";
import { parsePdf } from "./pdf.js";
import { parseText } from "./text.js";
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

function parseAs(kind: DocumentKind, bytes: Buffer, options: ParseOptions = {}): Promise<ParsedDocument> | ParsedDocument {
  switch (kind) {
    case "pdf":
      return parsePdf(bytes);
    case "docx":
      return parseDocx(bytes, options.zipLimits);
    case "html":
      return parseHtml(bytes);
    case "markdown":
      return parseMarkdown(bytes);
    case "text":
      return parseText(bytes);
  }
}
