import type { ParsedDocument, Section } from "../types.js";

/**
 * Builds a ParsedDocument from a stream of headings, text blocks and page
 * breaks, for formats whose text we assemble (HTML, DOCX, PDF, plain text).
 * Blocks are separated by one blank line; a heading opens a new section and
 * is the first line of it.
 */
export interface DocumentBuilder {
  heading(level: number, text: string): void;
  block(text: string): void;
  pageBreak(): void;
  build(meta: Pick<ParsedDocument, "kind" | "contentType" | "title" | "declared">): ParsedDocument;
}

export function createDocumentBuilder(): DocumentBuilder {
  let text = "";
  const sections: Section[] = [];
  const path: string[] = [];
  let current: Section = { headingPath: [], charStart: 0, charEnd: 0 };
  const pageStarts: number[] = [];

  const append = (block: string) => {
    if (text.length > 0) text += "\n\n";
    const start = text.length;
    text += block;
    return start;
  };
  const close = () => {
    current.charEnd = text.length;
    if (text.slice(current.charStart, current.charEnd).trim()) sections.push(current);
  };

  return {
    heading(level, raw) {
      const heading = raw.replace(/\s+/g, " ").trim();
      if (!heading) return;
      close();
      const depth = Math.min(Math.max(level, 1), 6);
      path.length = depth - 1;
      for (let i = 0; i < path.length; i += 1) path[i] ??= "";
      path[depth - 1] = heading;
      const start = append(heading);
      current = { headingPath: path.filter(Boolean), charStart: start, charEnd: start };
    },
    block(raw) {
      const block = raw.replace(/[ \t]+\n/g, "\n").replace(/\n{2,}/g, "\n").trim();
      if (!block) return;
      append(block);
    },
    pageBreak() {
      // The next block starts the page; "\n\n" is added before it, so point past that.
      pageStarts.push(text.length === 0 ? 0 : text.length + 2);
    },
    build(meta) {
      close();
      return { ...meta, text, sections, ...(pageStarts.length ? { pageStarts } : {}) };
    },
  };
}
