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
export function underSameParent(section: Section, next: Section): boolean {
  const parent = section.headingPath.slice(0, -1);
  return parent.every((heading, i) => next.headingPath[i] === heading);
}

/** Tokens of a section: its blocks plus one per blank line between them. */
export function sectionTokens(blocks: readonly Span[]): number {
  return blocks.reduce((sum, block) => sum + block.tokens, Math.max(0, blocks.length - 1));
}
