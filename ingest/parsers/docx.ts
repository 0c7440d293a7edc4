import mammoth from "mammoth";
import { UnprocessableDocumentError } from "../../core/errors.js";
import type { ParsedDocument } from "../types.js";
import { parseHtmlString } from "./html.js";
import { checkZipLimits, type ZipLimits } from "./zip-guard.js";

const CORE_PROPERTIES = "docProps/core.xml";

function decodeXml(text: string): string {
  return text.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
}

/** DOCX with mammoth (Word headings become h1-h6), after the zip limits are proven. */
export async function parseDocx(bytes: Buffer, limits?: ZipLimits): Promise<ParsedDocument> {
  const properties = (await checkZipLimits(bytes, limits, "DOCX", [CORE_PROPERTIES])).get(CORE_PROPERTIES);
  const title = properties ? /<dc:title>([^<]*)<\/dc:title>/.exec(properties)?.[1]?.trim() : undefined;
  let html: string;
  try {
    html = (await mammoth.convertToHtml({ buffer: bytes })).value;
  } catch (error) {
    throw new UnprocessableDocumentError(`the DOCX could not be read: ${(error as Error).message}`, { cause: error });
  }
  const parsed = parseHtmlString(html, "docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document");
  if (!parsed.text.trim()) throw new UnprocessableDocumentError("the DOCX has no text");
  return title ? { ...parsed, title: decodeXml(title), declared: { ...parsed.declared, title: decodeXml(title) } } : parsed;
}
