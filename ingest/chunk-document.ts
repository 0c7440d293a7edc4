import { contextLine, contextTokens } from "./chunking/context.js";
import { groupSections, headingEnd } from "./chunking/sections.js";
import { splitBlocks, trimmed, type Span } from "./chunking/spans.js";
import { planWindows } from "./chunking/windows.js";
import { contentHash } from "./normalize.js";
import { tokensWithLeadLine } from "./chunking/token-counter.js";
import { countTokens } from "./tokenizer.js";
import type { Chunk, ChunkingOptions, DocumentMeta, ParsedDocument, Section } from "./types.js";

/** A section of one block shorter than this is a bare heading or title line. */
const BARE_LINE_TOKENS = 24;

/**
 * Sections first, then tokens: tiny sections join their successor, each group
 * is cut into token windows that never cross its boundary, and each window
 * becomes a chunk with its metadata and content hash.
 *
 * Windows hold body text only. A section's heading line is never a window of
 * its own (a title alone made 5–26-token chunks that crowded search results);
 * instead every chunk's text starts with the heading path of the section its
 * body starts in ("Manual > Install\n\n…"), so a window deep in a long
 * section is found by its headings too. Headings of later sections joined into
 * the same window stay in the text where they stand: every heading above any
 * of a chunk's text is in that chunk's text. A heading with no body under it
 * reaches the chunks of its subsections through their paths; one with neither
 * (a heading at the end of the document) is in no chunk.
 */
export function chunkDocument(parsed: ParsedDocument, meta: DocumentMeta, options: ChunkingOptions): Chunk[] {
  const overlapTokens = Math.floor(options.sizeTokens * options.overlapRatio);
  const title = meta.title ?? parsed.declared.title ?? parsed.title ?? meta.source;
  const tags = [...new Set([...meta.tags, ...(parsed.declared.tags ?? [])])];
  const date = meta.date ?? parsed.declared.date;
  const chunks: Chunk[] = [];
  // Every section is cut into blocks and counted once; grouping (whole sections, heading included) and windows (bodies) reuse the counts.
  const blocks = parsed.sections.map((s) => splitBlocks(parsed.text, s.charStart, s.charEnd));
  const bodies = parsed.sections.map((s, i) => bodyBlocks(parsed.text, blocks[i] as Span[], headingEnd(parsed.text, s)));
  const bare = blocks.map((b) => b.length <= 1 && (b[0]?.tokens ?? 0) < BARE_LINE_TOKENS);
  const contexts = parsed.sections.map((s) => contextLine(s.headingPath, options.sizeTokens));
  const contextLineTokens = new Map(contexts.map((line) => [line, countTokens(`${line}\n\n`)]));
  for (const group of groupSections(parsed.sections, blocks, options.minSectionTokens)) {
    const groupBlocks = bodies.slice(group.first, group.last + 1).flat();
    // The context line is added to each window, so windows are planned that much smaller.
    const room = options.sizeTokens - Math.max(...contexts.slice(group.first, group.last + 1).map(contextTokens));
    for (const window of planWindows(parsed.text, groupBlocks, { sizeTokens: room, overlapTokens: Math.min(overlapTokens, room - 1) })) {
      const body = parsed.text.slice(window.start, window.end);
      const sectionIndex = firstSectionOf(parsed.sections, group.first, group.last, window.start);
      const context = contexts[sectionIndex] as string;
      const text = context ? `${context}\n\n${body}` : body;
      const pages = parsed.pageStarts ? { pageStart: pageAt(parsed.pageStarts, window.start), pageEnd: pageAt(parsed.pageStarts, window.end - 1) } : {};
      chunks.push({
        documentId: meta.documentId,
        version: meta.version,
        ordinal: chunks.length,
        text,
        tokenCount: context ? tokensWithLeadLine(context, contextLineTokens.get(context) as number, body, window.tokens) : window.tokens,
        charStart: window.start,
        charEnd: window.end,
        headingPath: headingPathOf(parsed.sections, bare, group.first, group.last, window.start, window.end),
        sectionIndex,
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

/** A section's blocks after its heading: a block that is all heading goes, one that goes on past it ("# Title\nfirst line") keeps the rest. */
function bodyBlocks(text: string, blocks: readonly Span[], bodyStart: number): Span[] {
  const out: Span[] = [];
  for (const block of blocks) {
    if (block.end <= bodyStart) continue;
    out.push(block.start >= bodyStart ? block : trimmed(text, bodyStart, block.end));
  }
  return out.filter((b) => b.end > b.start);
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
