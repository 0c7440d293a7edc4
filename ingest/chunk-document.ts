import { groupSections } from "./chunking/sections.js";
import { splitBlocks } from "./chunking/spans.js";
import { planWindows } from "./chunking/windows.js";
import { contentHash } from "./normalize.js";
import type { Chunk, ChunkingOptions, DocumentMeta, ParsedDocument, Section } from "./types.js";

/** A section of one block shorter than this is a bare heading or title line. */
const BARE_LINE_TOKENS = 24;

/**
 * Sections first, then tokens: tiny sections join their successor, each group
 * is cut into token windows that never cross its boundary, and each window
 * becomes a chunk with its metadata and content hash.
 */
export function chunkDocument(parsed: ParsedDocument, meta: DocumentMeta, options: ChunkingOptions): Chunk[] {
  const overlapTokens = Math.floor(options.sizeTokens * options.overlapRatio);
  const title = meta.title ?? parsed.declared.title ?? parsed.title ?? meta.source;
  const tags = [...new Set([...meta.tags, ...(parsed.declared.tags ?? [])])];
  const date = meta.date ?? parsed.declared.date;
  const chunks: Chunk[] = [];
  // Every section is cut into blocks and counted once; grouping, windows and heading paths reuse the counts.
  const blocks = parsed.sections.map((s) => splitBlocks(parsed.text, s.charStart, s.charEnd));
  const bare = blocks.map((b) => b.length <= 1 && (b[0]?.tokens ?? 0) < BARE_LINE_TOKENS);
  for (const group of groupSections(parsed.sections, blocks, options.minSectionTokens)) {
    const groupBlocks = blocks.slice(group.first, group.last + 1).flat();
    for (const window of planWindows(parsed.text, groupBlocks, { sizeTokens: options.sizeTokens, overlapTokens })) {
      const text = parsed.text.slice(window.start, window.end);
      const pages = parsed.pageStarts ? { pageStart: pageAt(parsed.pageStarts, window.start), pageEnd: pageAt(parsed.pageStarts, window.end - 1) } : {};
      chunks.push({
        documentId: meta.documentId,
        version: meta.version,
        ordinal: chunks.length,
        text,
        tokenCount: window.tokens,
        charStart: window.start,
        charEnd: window.end,
        headingPath: headingPathOf(parsed.sections, bare, group.first, group.last, window.start, window.end),
        sectionIndex: firstSectionOf(parsed.sections, group.first, group.last, window.start),
        ...pages,
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

/**
 * The heading path of a window: its section's, or for a window over joined
 * sections the part their paths share. A section that is one short line (a
 * parent heading before its first child, a title line) does not count: "Install" + "Install > Linux"
 * is "Install > Linux"; siblings "Pairing" + "Battery" share only their parent.
 */
function headingPathOf(sections: readonly Section[], bare: readonly boolean[], first: number, last: number, start: number, end: number): string[] {
  const touched: number[] = [];
  for (let i = first; i <= last; i += 1) {
    const s = sections[i] as Section;
    if (s.charStart < end && start < s.charEnd) touched.push(i);
  }
  const withBody = touched.filter((i) => !bare[i]);
  const paths = (withBody.length ? withBody : touched).map((i) => (sections[i] as Section).headingPath);
  const [head = [], ...rest] = paths;
  let shared = head.length;
  for (const p of rest) {
    let k = 0;
    while (k < shared && p[k] === head[k]) k += 1;
    shared = k;
  }
  return head.slice(0, shared);
}

function firstSectionOf(sections: readonly Section[], first: number, last: number, start: number): number {
  for (let i = first; i <= last; i += 1) if ((sections[i] as Section).charEnd > start) return i;
  return last;
}

/** 1-based page number of a character offset. */
function pageAt(pageStarts: readonly number[], offset: number): number {
  let lo = 0;
  let hi = pageStarts.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((pageStarts[mid] as number) <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo + 1;
}
