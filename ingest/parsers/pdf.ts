import { PDFParse } from "pdf-parse";
import { UnprocessableDocumentError } from "../../core/errors.js";
import type { ParsedDocument } from "../types.js";
import { createDocumentBuilder } from "./builder.js";

/**
 * PDF with pdf-parse: text per page, page numbers kept. Headings come from the
 * PDF's outline (bookmarks), found in the text in reading order; a PDF without
 * an outline gets page-by-page sections without headings.
 */
export async function parsePdf(bytes: Buffer): Promise<ParsedDocument> {
  checkEnvelope(bytes);
  const parser = new PDFParse({ data: new Uint8Array(bytes), verbosity: 0 });
  try {
    const info = await parser.getInfo().catch((error: unknown) => {
      throw classify(error, bytes);
    });
    const result = await parser.getText().catch((error: unknown) => {
      throw classify(error, bytes);
    });
    const pages = result.pages.map((page) => page.text.replace(/\r\n?/g, "\n"));
    if (!pages.some((page) => page.trim())) {
      throw new UnprocessableDocumentError(`the PDF has no text layer: ${pages.length} page(s) and no extractable text (scanned images?); OCR is not supported`);
    }
    const outline = flattenOutline(info.outline ?? []);
    const builder = createDocumentBuilder();
    let next = 0; // outline entries are looked for in order
    for (const page of pages) {
      builder.pageBreak();
      let paragraph: string[] = [];
      const flush = () => {
        builder.block(paragraph.join("\n"));
        paragraph = [];
      };
      for (const line of page.split("\n")) {
        const entry = outline[next];
        if (entry && sameText(line, entry.title)) {
          flush();
          builder.heading(entry.level, entry.title);
          next += 1;
        } else if (!line.trim()) flush();
        else paragraph.push(line.trimEnd());
      }
      flush();
    }
    const infoTitle = typeof info.info?.Title === "string" && info.info.Title.trim() ? info.info.Title.trim() : undefined;
    return builder.build({ kind: "pdf", contentType: "application/pdf", title: infoTitle ?? outline[0]?.title, declared: infoTitle ? { title: infoTitle } : {} });
  } finally {
    await parser.destroy().catch(() => undefined);
  }
}

/** Says which of not-a-PDF and truncated it is, which pdf.js reports alike. */
function checkEnvelope(bytes: Buffer): void {
  const head = bytes.subarray(0, 1024).toString("latin1");
  if (!head.includes("%PDF-")) throw new UnprocessableDocumentError("the file is not a PDF: it does not start with a %PDF- header");
  const tail = bytes.subarray(Math.max(0, bytes.length - 2048)).toString("latin1");
  if (!tail.includes("%%EOF")) throw new UnprocessableDocumentError(`the PDF is truncated: no %%EOF marker at its end (${bytes.length} bytes received)`);
}

function classify(error: unknown, bytes: Buffer): Error {
  const name = (error as { name?: string })?.name ?? "";
  const message = (error as Error)?.message ?? String(error);
  if (name === "PasswordException" || /password/i.test(message)) {
    return new UnprocessableDocumentError("the PDF is encrypted (password-protected); remove the password and upload it again");
  }
  if (name === "InvalidPDFException") return new UnprocessableDocumentError(`the PDF is corrupt: ${message} (${bytes.length} bytes)`);
  return new UnprocessableDocumentError(`the PDF could not be read: ${message}`, { cause: error });
}

interface OutlineEntry {
  title: string;
  level: number;
}

function flattenOutline(nodes: Array<{ title: string; items?: unknown[] }>, level = 1): OutlineEntry[] {
  const out: OutlineEntry[] = [];
  for (const node of nodes) {
    if (node.title?.trim()) out.push({ title: node.title.replace(/\s+/g, " ").trim(), level });
    if (Array.isArray(node.items) && node.items.length) out.push(...flattenOutline(node.items as Array<{ title: string; items?: unknown[] }>, level + 1));
  }
  return out;
}

function sameText(line: string, title: string): boolean {
  return line.replace(/\s+/g, " ").trim().toLowerCase() === title.toLowerCase();
}
