import { UnprocessableDocumentError, UnsupportedMediaTypeError } from "../../src/errors.js";
import type { ParsedDocument, Section } from "../types.js";

/**
 * Walking-skeleton parser for plain text and Markdown: UTF-8 only, one section
 * per heading. The structure-aware parsers replace it.
 */
export const SUPPORTED_CONTENT_TYPES = ["text/plain", "text/markdown"] as const;

export function parseMinimal(bytes: Buffer, contentType: string): ParsedDocument {
  if (!(SUPPORTED_CONTENT_TYPES as readonly string[]).includes(contentType)) {
    throw new UnsupportedMediaTypeError(`content type ${contentType} is not supported; supported: ${SUPPORTED_CONTENT_TYPES.join(", ")}`);
  }
  if (bytes.length === 0) throw new UnprocessableDocumentError("the document is empty (0 bytes)");
  const text = decodeUtf8(bytes);
  if (text.trim() === "") throw new UnprocessableDocumentError("the document has no text (only whitespace)");
  if (contentType === "text/markdown") return parseMarkdownLite(text);
  const firstLine = text.trim().split("\n", 1)[0]?.trim() ?? "";
  return { title: firstLine.length > 0 && firstLine.length <= 120 ? firstLine : undefined, declared: {}, text, sections: [{ headingPath: [], text, charStart: 0, charEnd: text.length }] };
}

function decodeUtf8(bytes: Buffer): string {
  let text: string;
  try {
    text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
  } catch {
    throw new UnprocessableDocumentError("the document is not valid UTF-8 text (binary data?)");
  }
  if (text.includes("\u0000")) throw new UnprocessableDocumentError("the document contains NUL bytes: binary data, not text");
  return text.replace(/^\uFEFF/, "");
}

function parseMarkdownLite(source: string): ParsedDocument {
  const { declared, body, bodyStart } = splitFrontMatter(source);
  const sections: Section[] = [];
  const path: string[] = [];
  let sectionStart = bodyStart;
  let sectionPath: string[] = [];
  let title = declared.title;
  const headingLine = /^(#{1,6})[ \t]+(.+?)[ \t#]*$/gm;
  const flush = (end: number) => {
    const text = source.slice(sectionStart, end);
    if (text.trim()) sections.push({ headingPath: sectionPath, text, charStart: sectionStart, charEnd: end });
  };
  const fences = fencedRanges(body);
  for (const match of body.matchAll(headingLine)) {
    if (fences.some(([start, end]) => (match.index ?? 0) >= start && (match.index ?? 0) < end)) continue;
    const at = bodyStart + (match.index ?? 0);
    flush(at);
    const level = (match[1] ?? "#").length;
    const heading = (match[2] ?? "").trim();
    path.length = Math.min(path.length, level - 1);
    path[level - 1] = heading;
    sectionPath = path.filter((h) => h !== undefined);
    sectionStart = at;
    if (!title && level === 1) title = heading;
  }
  flush(source.length);
  return { title, declared, text: source, sections };
}

/** `---` front matter with `key: value` lines; tags as `[a, b]` or `a, b`. */
function splitFrontMatter(source: string): { declared: ParsedDocument["declared"]; body: string; bodyStart: number } {
  const match = /^---\r?\n([\s\S]*?)\r?\n---[ \t]*(?:\r?\n|$)/.exec(source);
  if (!match) return { declared: {}, body: source, bodyStart: 0 };
  const declared: ParsedDocument["declared"] = {};
  for (const line of (match[1] ?? "").split(/\r?\n/)) {
    const kv = /^([A-Za-z_][\w-]*):\s*(.*)$/.exec(line);
    if (!kv) continue;
    const key = (kv[1] ?? "").toLowerCase();
    const value = (kv[2] ?? "").trim().replace(/^["']|["']$/g, "");
    if (key === "title" && value) declared.title = value;
    if (key === "date" && value) declared.date = value;
    if (key === "tags" && value) {
      declared.tags = value
        .replace(/^\[|\]$/g, "")
        .split(",")
        .map((t) => t.trim().replace(/^["']|["']$/g, ""))
        .filter(Boolean);
    }
  }
  return { declared, body: source.slice(match[0].length), bodyStart: match[0].length };
}

/** Fenced code blocks (``` or ~~~), where a '# ' line is a comment, not a heading. */
function fencedRanges(body: string): Array<[number, number]> {
  const ranges: Array<[number, number]> = [];
  let open: { at: number; fence: string } | undefined;
  for (const match of body.matchAll(/^ {0,3}(`{3,}|~{3,}).*$/gm)) {
    const fence = match[1] ?? "";
    if (!open) open = { at: match.index ?? 0, fence };
    else if (fence[0] === open.fence[0] && fence.length >= open.fence.length) {
      ranges.push([open.at, (match.index ?? 0) + match[0].length]);
      open = undefined;
    }
  }
  if (open) ranges.push([open.at, body.length]);
  return ranges;
}
