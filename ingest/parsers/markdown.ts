import type { Heading, Root, RootContent } from "mdast";
import { fromMarkdown } from "mdast-util-from-markdown";
import { frontmatterFromMarkdown } from "mdast-util-frontmatter";
import { gfmTableFromMarkdown } from "mdast-util-gfm-table";
import { toString } from "mdast-util-to-string";
import { frontmatter } from "micromark-extension-frontmatter";
import { gfmTable } from "micromark-extension-gfm-table";
import { parse as parseYaml } from "yaml";
import type { ParsedDocument, Section } from "../types.js";
import { decodeText } from "./text.js";

/**
 * Markdown through a real parser (micromark/mdast): ATX and setext headings
 * open sections, code blocks stay intact (a '#' line inside one is code),
 * YAML front matter is read as metadata. Section text is the Markdown source
 * itself, so code, lists and tables keep their form.
 */
export function parseMarkdown(bytes: Buffer): ParsedDocument {
  const { text } = decodeText(bytes);
  const tree: Root = fromMarkdown(text, {
    extensions: [frontmatter(["yaml"]), gfmTable()],
    mdastExtensions: [frontmatterFromMarkdown(["yaml"]), gfmTableFromMarkdown()],
  });
  const declared = readFrontMatter(tree.children);
  const sections: Section[] = [];
  const path: string[] = [];
  let current: Section | undefined;
  let title = declared.title;
  let bodyStart = 0;

  for (const node of tree.children) {
    const start = node.position?.start.offset ?? 0;
    if (node.type === "yaml") {
      bodyStart = node.position?.end.offset ?? 0;
      continue;
    }
    if (node.type === "heading") {
      const heading = headingText(node);
      if (current) current.charEnd = start;
      else if (text.slice(bodyStart, start).trim()) sections.push({ headingPath: [], charStart: bodyStart, charEnd: start });
      path.length = node.depth - 1;
      path[node.depth - 1] = heading;
      current = { headingPath: [...path].filter((h) => h !== undefined && h !== ""), charStart: start, charEnd: text.length };
      sections.push(current);
      title ??= node.depth === 1 ? heading : undefined;
    }
  }
  if (!current && text.slice(bodyStart).trim()) sections.push({ headingPath: [], charStart: bodyStart, charEnd: text.length });
  if (current) current.charEnd = text.length;
  trimSectionEnds(text, sections);
  return { kind: "markdown", contentType: "text/markdown", title, declared, text, sections: sections.filter((s) => s.charEnd > s.charStart) };
}

function headingText(node: Heading): string {
  return toString(node).replace(/\s+/g, " ").trim();
}

function trimSectionEnds(text: string, sections: Section[]): void {
  for (const section of sections) {
    while (section.charEnd > section.charStart && /\s/.test(text[section.charEnd - 1] ?? "")) section.charEnd -= 1;
  }
}

function readFrontMatter(nodes: RootContent[]): ParsedDocument["declared"] {
  const yamlNode = nodes.find((n) => n.type === "yaml");
  if (!yamlNode || yamlNode.type !== "yaml") return {};
  let data: unknown;
  try {
    data = parseYaml(yamlNode.value);
  } catch {
    return {}; // broken front matter is the document's text problem, not a reason to reject it
  }
  if (typeof data !== "object" || data === null) return {};
  const record = data as Record<string, unknown>;
  const declared: ParsedDocument["declared"] = {};
  if (typeof record.title === "string" && record.title.trim()) declared.title = record.title.trim();
  const date = record.date instanceof Date ? record.date.toISOString().slice(0, 10) : typeof record.date === "string" ? record.date : undefined;
  if (date) declared.date = date;
  const tags = Array.isArray(record.tags) ? record.tags : typeof record.tags === "string" ? record.tags.split(",") : [];
  const cleaned = tags.map((t) => String(t).trim()).filter(Boolean);
  if (cleaned.length) declared.tags = cleaned;
  return declared;
}
