import fc from "fast-check";
import type { Heading, Root } from "mdast";
import { fromMarkdown } from "mdast-util-from-markdown";
import { frontmatterFromMarkdown } from "mdast-util-frontmatter";
import { gfmTableFromMarkdown } from "mdast-util-gfm-table";
import { toString } from "mdast-util-to-string";
import { frontmatter } from "micromark-extension-frontmatter";
import { gfmTable } from "micromark-extension-gfm-table";
import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import type { Section } from "../types.js";
import { parseMarkdown } from "./markdown.js";

/**
 * Sections and title as ragops found them with micromark/mdast before: kept as
 * the reference the faster parser must agree with, so documents ingested
 * before keep their sections, and so their chunks and hashes.
 */
function referenceParse(text: string): { title: string | undefined; sections: Section[] } {
  const withFrontMatter: Root = fromMarkdown(text, { extensions: [frontmatter(["yaml"]), gfmTable()], mdastExtensions: [frontmatterFromMarkdown(["yaml"]), gfmTableFromMarkdown()] });
  // micromark's front-matter extension, when a document opens with a fence it never closes, leaves the parser in a state that reads
  // later lines wrongly ("---\n- item\n===" has a heading); such a document is read as plain CommonMark + GFM tables, as it should be.
  const tree: Root = withFrontMatter.children[0]?.type === "yaml" ? withFrontMatter : fromMarkdown(text, { extensions: [gfmTable()], mdastExtensions: [gfmTableFromMarkdown()] });
  const sections: Section[] = [];
  const path: string[] = [];
  let current: Section | undefined;
  let title: string | undefined;
  let bodyStart = 0;
  for (const node of tree.children) {
    const start = node.position?.start.offset ?? 0;
    if (node.type === "yaml") {
      bodyStart = node.position?.end.offset ?? 0;
      let declared: { title?: unknown } | null = null;
      try {
        declared = parseYaml(node.value) as { title?: unknown } | null;
      } catch {
        // broken front matter declares nothing
      }
      if (typeof declared?.title === "string" && declared.title.trim()) title = declared.title.trim();
      continue;
    }
    if (node.type !== "heading") continue;
    const heading = toString(node as Heading).replace(/\s+/g, " ").trim();
    if (current) current.charEnd = start;
    else if (text.slice(bodyStart, start).trim()) sections.push({ headingPath: [], charStart: bodyStart, charEnd: start });
    path.length = node.depth - 1;
    path[node.depth - 1] = heading;
    current = { headingPath: [...path].filter((h) => h !== undefined && h !== ""), charStart: start, charEnd: text.length };
    sections.push(current);
    title ??= node.depth === 1 ? heading : undefined;
  }
  if (!current && text.slice(bodyStart).trim()) sections.push({ headingPath: [], charStart: bodyStart, charEnd: text.length });
  if (current) current.charEnd = text.length;
  for (const section of sections) while (section.charEnd > section.charStart && /\s/.test(text[section.charEnd - 1] ?? "")) section.charEnd -= 1;
  return { title, sections: sections.filter((s) => s.charEnd > s.charStart) };
}

const LINES = [
  "# Title",
  "## Sub *em* and `code`",
  "   ### Indented three",
  "    # indented four is code",
  "\t# tab",
  "#NoSpace",
  "#",
  "# ",
  "###### Six",
  "####### seven is text",
  "Setext line",
  "===",
  "---",
  "- - -",
  "***",
  "```",
  "```js",
  "~~~",
  "text line with words",
  "",
  "",
  "- item",
  "1. numbered",
  "> quote # not heading",
  "> # heading in quote",
  "| a | b |",
  "|---|---|",
  "| 1 | 2 |",
  "<div>",
  "</div>",
  "title: Something",
  "Heading [link](http://x) ![alt *t*](u.png) &amp; \\* <b>x</b>",
  "# Closing hashes ##",
  "Foo\\",
  "  trailing spaces  ",
];
const documentArb = fc
  .tuple(
    fc.constantFrom("", "---\ntitle: Front\ntags: [a, b]\n---\n", "---\n---\n", "--- \ntitle: x\n---  \n", "---\nno close\n"),
    fc.array(fc.constantFrom(...LINES), { maxLength: 40 }),
    fc.constantFrom("\n", "\r\n"),
  )
  .map(([front, lines, eol]) => front.replace(/\n/g, eol) + lines.join(eol));

describe("Markdown sections", () => {
  it("finds the sections and title the CommonMark reference parser finds, at the same offsets", () => {
    fc.assert(
      fc.property(documentArb, (text) => {
        fc.pre(text.trim().length > 0); // an empty or blank file is refused before parsing
        const parsed = parseMarkdown(Buffer.from(text));
        const reference = referenceParse(parsed.text); // offsets are into the decoded text (line endings normalised)
        expect(parsed.sections).toEqual(reference.sections);
        expect(parsed.title ?? undefined).toEqual(reference.title);
      }),
      { numRuns: 1500 },
    );
  });

  it("reads an unclosed front matter fence as a thematic break, and the rest as CommonMark", () => {
    const doc = parseMarkdown(Buffer.from("---\nno close\n> # quoted\n===\n\n# Real heading\n\nBody."));
    expect(doc.declared).toEqual({});
    expect(doc.sections.map((s) => s.headingPath)).toEqual([[], ["Real heading"]]);
    expect(doc.sections[0]?.charStart).toBe(0);
  });
});
