import type { Section } from "../types.js";
import type { Span } from "./spans.js";

/**
 * Tiny sections (a heading with a line under it, a heading-only parent) would
 * make tiny chunks. A section below `minTokens` joins the section after it when
 * that one sits under the same parent heading. The rule looks at one section
 * and its successor only, so an edit can change the grouping of the edited
 * section and its neighbours, never of sections further away.
 */
export interface SectionGroup {
  /** Indexes into the document's sections, consecutive. */
  first: number;
  last: number;
  charStart: number;
  charEnd: number;
}

/** `blocks[i]` are the blocks of `sections[i]` (splitBlocks); a section's size is theirs. */
export function groupSections(sections: readonly Section[], blocks: readonly Span[][], minTokens: number): SectionGroup[] {
  const groups: SectionGroup[] = [];
  let first = 0;
  for (let i = 0; i < sections.length; i += 1) {
    const section = sections[i] as Section;
    const next = sections[i + 1];
    const joinsNext = next !== undefined && underSameParent(section, next) && sectionTokens(blocks[i] ?? []) < minTokens;
    if (joinsNext) continue;
    groups.push({ first, last: i, charStart: (sections[first] as Section).charStart, charEnd: section.charEnd });
    first = i + 1;
  }
  return groups;
}

/** `next` is a sibling of `section`, or deeper under the same parent (a heading-only parent before its first child). */
function underSameParent(section: Section, next: Section): boolean {
  const parent = section.headingPath.slice(0, -1);
  return parent.every((heading, i) => next.headingPath[i] === heading);
}

/** Tokens of a section: its blocks plus one per blank line between them. */
function sectionTokens(blocks: readonly Span[]): number {
  return blocks.reduce((sum, block) => sum + block.tokens, Math.max(0, blocks.length - 1));
}

const ATX_HEADING = /^ {0,3}#{1,6}(?:[ \t]|$)/;
const SETEXT_UNDERLINE = /^ {0,3}(?:=+|-+)[ \t]*$/;

/**
 * Where a section's heading ends and its body begins. A section with a
 * heading path starts with its heading: one ATX line (`## Install`), a
 * setext heading (lines up to its `===`/`---` underline, all in the first
 * block), or, in formats we assemble (HTML, DOCX, PDF), the heading text as
 * one line. A section without a heading path (text before the first heading)
 * is all body.
 */
export function headingEnd(text: string, section: Section): number {
  if (section.headingPath.length === 0) return section.charStart;
  const lineEnd = (from: number) => {
    const newline = text.indexOf("\n", from);
    return newline === -1 || newline > section.charEnd ? section.charEnd : newline;
  };
  const first = lineEnd(section.charStart);
  if (ATX_HEADING.test(text.slice(section.charStart, first))) return first;
  for (let start = first + 1; start < section.charEnd; ) {
    const end = lineEnd(start);
    const line = text.slice(start, end);
    if (line.trim() === "") break; // the first block ended without an underline
    if (SETEXT_UNDERLINE.test(line)) return end;
    start = end + 1;
  }
  return first;
}
