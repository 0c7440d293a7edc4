import MarkdownIt from "markdown-it";
import type Token from "markdown-it/lib/token.mjs";
import { parse as parseYaml } from "yaml";
import type { ParsedDocument, Section } from "../types.js";
import { decodeText } from "./text.js";

/**
 * Markdown through a real CommonMark parser (markdown-it, with GFM tables):
 * ATX and setext headings open sections, code blocks stay intact (a '#' line
 * inside one is code), YAML front matter is read as metadata. Section text is
 * the Markdown source itself, so code, lists and tables keep their form.
 *
 * Only the block structure decides sections, so inline parsing runs for
 * heading lines alone: on the shared corpus that is most of the parse time
 * saved (the inline pass over every paragraph is what chunking never uses).
 */
const markdown = new MarkdownIt("default", { html: true });
markdown.core.ruler.disable(["inline", "linkify", "replacements", "smartquotes", "text_join"]);

export function parseMarkdown(bytes: Buffer): ParsedDocument {
  const { text } = decodeText(bytes);
  const front = frontMatterAt(text);
  const declared = front ? readFrontMatter(front.yaml) : {};
  const bodyStart = front?.end ?? 0;
  // The front matter becomes blank lines of the same length, so line numbers and offsets stay those of the text.
  const masked = front ? text.slice(0, front.end).replace(/[^\r\n]/g, " ") + text.slice(front.end) : text;
  const lineStarts = startsOfLines(masked);
  const tokens = markdown.parse(masked, {});
  const sections: Section[] = [];
  const path: string[] = [];
  let current: Section | undefined;
  let title = declared.title;

  for (const [i, token] of tokens.entries()) {
    if (token.type !== "heading_open" || token.level !== 0 || !token.map) continue;
    const start = firstNonBlank(masked, lineStarts[token.map[0]] ?? masked.length);
    const heading = headingText(tokens[i + 1]);
    const depth = Number(token.tag.slice(1));
    if (current) current.charEnd = start;
    else if (text.slice(bodyStart, start).trim()) sections.push({ headingPath: [], charStart: bodyStart, charEnd: start });
    path.length = depth - 1;
    path[depth - 1] = heading;
    current = { headingPath: [...path].filter((h) => h !== undefined && h !== ""), charStart: start, charEnd: text.length };
    sections.push(current);
    title ??= depth === 1 ? heading : undefined;
  }
  if (!current && text.slice(bodyStart).trim()) sections.push({ headingPath: [], charStart: bodyStart, charEnd: text.length });
  if (current) current.charEnd = text.length;
  trimSectionEnds(text, sections);
  return { kind: "markdown", contentType: "text/markdown", title, declared, text, sections: sections.filter((s) => s.charEnd > s.charStart) };
}

/**
 * YAML front matter as CommonMark front-matter extensions read it: a `---`
 * line first in the document (trailing spaces allowed), up to the next `---`
 * line. `end` is where the closing fence (and its spaces) ends.
 */
function frontMatterAt(text: string): { yaml: string; end: number } | undefined {
  const open = /^---[ \t]*(?:\r\n|\r|\n)/.exec(text);
  if (!open) return undefined;
  const close = /(?:^|\r\n|\r|\n)---[ \t]*(?=\r\n|\r|\n|$)/g;
  close.lastIndex = open[0].length - 1; // the open fence's line ending may also begin an empty front matter's closing line
  for (let m = close.exec(text); m; m = close.exec(text)) {
    const fenceStart = m.index + (m[0].startsWith("\r\n") ? 2 : /^[\r\n]/.test(m[0]) ? 1 : 0);
    if (fenceStart < open[0].length) continue;
    return { yaml: text.slice(open[0].length, Math.max(open[0].length, m.index)), end: m.index + m[0].length };
  }
  return undefined;
}

function startsOfLines(text: string): number[] {
  const starts = [0];
  for (const m of text.matchAll(/\r\n|\r|\n/g)) starts.push((m.index ?? 0) + m[0].length);
  return starts;
}

function firstNonBlank(text: string, from: number): number {
  let i = from;
  while (text[i] === " " || text[i] === "\t") i += 1;
  return i;
}

/** The heading's words as a reader sees them: inline markup, links and image markup gone, code and alt text kept. */
function headingText(inline: Token | undefined): string {
  const children: Token[] = [];
  if (inline) markdown.inline.parse(inline.content, markdown, {}, children);
  return plainText(children).replace(/\s+/g, " ").trim();
}

function plainText(tokens: readonly Token[]): string {
  let out = "";
  for (const token of tokens) {
    if (token.type === "image") out += plainText(token.children ?? []);
    else if (token.type === "softbreak") out += "\n";
    else if (token.type === "hardbreak") continue; // as before (mdast's break node has no text), so heading paths of documents ingested before stay the same
    else if (token.children) out += plainText(token.children);
    else if (token.type === "text" || token.type === "text_special" || token.type === "code_inline" || token.type === "html_inline") out += token.content;
  }
  return out;
}

function trimSectionEnds(text: string, sections: Section[]): void {
  for (const section of sections) {
    while (section.charEnd > section.charStart && /\s/.test(text[section.charEnd - 1] ?? "")) section.charEnd -= 1;
  }
}

function readFrontMatter(yaml: string): ParsedDocument["declared"] {
  let data: unknown;
  try {
    data = parseYaml(yaml);
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
