import type { ChildNode, Element } from "domhandler";
import { parseDocument } from "htmlparser2";
import type { ParsedDocument } from "../types.js";
import { createDocumentBuilder, type DocumentBuilder } from "./builder.js";
import { decodeText } from "./text.js";

/**
 * HTML through a real parser (htmlparser2): h1-h6 open sections; paragraphs,
 * list items and table rows become text; script, style, nav, forms and hidden
 * content (and footer boilerplate) are dropped. Title from <title>, else the first <h1>.
 */
const DROPPED = new Set(["script", "style", "noscript", "template", "nav", "footer", "svg", "iframe", "object", "embed", "canvas", "button", "select", "input", "textarea", "form", "head"]);
const BLOCKS = new Set([
  "p", "div", "section", "article", "main", "header", "aside", "blockquote", "figure", "figcaption", "address",
  "dl", "dt", "dd", "ul", "ol", "li", "table", "tr", "pre", "hr", "body", "html", "details", "summary", "center",
]);

export function parseHtml(bytes: Buffer): ParsedDocument {
  return parseHtmlString(decodeText(bytes).text, "html", "text/html");
}

export function parseHtmlString(html: string, kind: ParsedDocument["kind"], contentType: string): ParsedDocument {
  const dom = parseDocument(html, { decodeEntities: true, lowerCaseTags: true });
  const builder = createDocumentBuilder();
  const state = { inline: "", firstH1: undefined as string | undefined };
  const flush = () => {
    builder.block(state.inline);
    state.inline = "";
  };
  walk(dom.children, builder, state, flush);
  flush();
  const titleElement = findFirst(dom.children, "title");
  const title = (titleElement ? textOf(titleElement) : "").replace(/\s+/g, " ").trim() || state.firstH1;
  return builder.build({ kind, contentType, title, declared: {} });
}

interface WalkState {
  inline: string;
  firstH1: string | undefined;
}

function walk(nodes: ChildNode[], builder: DocumentBuilder, state: WalkState, flush: () => void): void {
  for (const node of nodes) {
    if (node.type === "text") {
      state.inline += node.data.replace(/\s+/g, " ");
      continue;
    }
    if (node.type !== "tag" && node.type !== "script" && node.type !== "style") continue;
    const element = node as Element;
    const name = element.name;
    if (DROPPED.has(name) && name !== "head") continue;
    if (name === "head" || isHidden(element)) continue;
    const heading = /^h([1-6])$/.exec(name);
    if (heading) {
      flush();
      const text = textOf(element).replace(/\s+/g, " ").trim();
      if (name === "h1") state.firstH1 ??= text;
      builder.heading(Number(heading[1]), text);
      continue;
    }
    if (name === "br") {
      state.inline += "\n";
      continue;
    }
    if (name === "pre") {
      flush();
      builder.block(textOf(element));
      continue;
    }
    if (name === "table") {
      flush();
      builder.block(tableText(element));
      continue;
    }
    if (name === "li") {
      flush();
      state.inline = "- ";
      walk(element.children, builder, state, flush);
      flush();
      continue;
    }
    const isBlock = BLOCKS.has(name);
    if (isBlock) flush();
    walk(element.children, builder, state, flush);
    if (isBlock) flush();
  }
}

function isHidden(element: Element): boolean {
  const attrs = element.attribs ?? {};
  if ("hidden" in attrs || attrs["aria-hidden"] === "true") return true;
  if (element.name === "input" && attrs.type === "hidden") return true;
  const style = (attrs.style ?? "").replace(/\s+/g, "").toLowerCase();
  return style.includes("display:none") || style.includes("visibility:hidden");
}

function tableText(table: Element): string {
  const rows: string[] = [];
  const visit = (nodes: ChildNode[]) => {
    for (const node of nodes) {
      if (node.type !== "tag") continue;
      const element = node as Element;
      if (isHidden(element)) continue;
      if (element.name === "tr") {
        const cells = element.children.filter((c): c is Element => c.type === "tag" && (c.name === "td" || c.name === "th"));
        rows.push(cells.map((c) => textOf(c).replace(/\s+/g, " ").trim()).join(" | "));
      } else visit(element.children);
    }
  };
  visit(table.children);
  return rows.filter((r) => r.replace(/[|\s]/g, "")).join("\n");
}

function textOf(node: ChildNode | Element): string {
  if (node.type === "text") return node.data;
  if (node.type !== "tag" && node.type !== "root") return "";
  const element = node as Element;
  if (DROPPED.has(element.name) || isHidden(element)) return "";
  return element.children.map((child) => (child.type === "tag" && (child as Element).name === "br" ? "\n" : textOf(child))).join("");
}

function findFirst(nodes: ChildNode[], name: string): Element | undefined {
  for (const node of nodes) {
    if (node.type !== "tag") continue;
    const element = node as Element;
    if (element.name === name) return element;
    const inner = findFirst(element.children, name);
    if (inner) return inner;
  }
  return undefined;
}
