import { tokenWindows } from "./chunking/token-windows.js";
import { contentHash } from "./normalize.js";
import type { Chunk, ChunkingOptions, DocumentMeta, ParsedDocument } from "./types.js";

/** Sections first, then token windows inside each section. */
export function chunkDocument(parsed: ParsedDocument, meta: DocumentMeta, options: ChunkingOptions): Chunk[] {
  const overlapTokens = Math.floor(options.sizeTokens * options.overlapRatio);
  const title = meta.title ?? parsed.declared.title ?? parsed.title ?? meta.source;
  const tags = [...new Set([...meta.tags, ...(parsed.declared.tags ?? [])])];
  const date = meta.date ?? parsed.declared.date;
  const chunks: Chunk[] = [];
  for (const section of parsed.sections) {
    for (const window of tokenWindows(section.text, options.sizeTokens, overlapTokens)) {
      const text = section.text.slice(window.charStart, window.charEnd).trimEnd();
      if (!hasBodyText(text)) continue;
      chunks.push({
        documentId: meta.documentId,
        version: meta.version,
        ordinal: chunks.length,
        text,
        tokenCount: window.tokenCount,
        charStart: section.charStart + window.charStart,
        charEnd: section.charStart + window.charStart + text.length,
        headingPath: section.headingPath,
        ...(section.page !== undefined ? { pageStart: section.page, pageEnd: section.page } : {}),
        title,
        source: meta.source,
        contentType: meta.contentType,
        tags,
        ...(date ? { date } : {}),
        hash: contentHash(text),
      });
    }
  }
  return chunks;
}

/** A window holding only headings says nothing a search could use. */
function hasBodyText(text: string): boolean {
  return text.split("\n").some((line) => line.trim() !== "" && !/^#{1,6}\s/.test(line));
}
