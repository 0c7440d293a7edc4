import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { UnprocessableDocumentError, UnsupportedMediaTypeError } from "../../core/errors.js";
import type { ParsedDocument } from "../types.js";
import { detectKind, parseDocument } from "./index.js";
import { parseHtml } from "./html.js";
import { parseMarkdown } from "./markdown.js";
import { parseText } from "./text.js";

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "..", "..", "test", "fixtures", name));
const sectionText = (doc: ParsedDocument, i: number) => doc.text.slice(doc.sections[i]!.charStart, doc.sections[i]!.charEnd);
const headings = (doc: ParsedDocument) => doc.sections.map((s) => s.headingPath.join(" > "));

describe("PDF", () => {
  it("keeps pages and takes headings from the outline", async () => {
    const doc = await parseDocument(fixture("manual.pdf"), { filename: "manual.pdf" });
    expect(doc).toMatchObject({ kind: "pdf", contentType: "application/pdf", title: "Kestrel Pump Service Manual" });
    expect(doc.pageStarts!.length).toBeGreaterThanOrEqual(2);
    expect(headings(doc)).toEqual([
      "Kestrel Pump Service Manual",
      "Kestrel Pump Service Manual > Installation",
      "Kestrel Pump Service Manual > Installation > Linux controller",
      "Kestrel Pump Service Manual > Maintenance",
      "Kestrel Pump Service Manual > Troubleshooting",
    ]);
    expect(sectionText(doc, 4)).toContain("replace capacitor C7");
    const maintenance = doc.sections[3]!;
    expect(doc.pageStarts!.findLastIndex((start) => start <= maintenance.charStart) + 1).toBeGreaterThan(1);
  });

  it.each([
    ["truncated.pdf", /truncated: no %%EOF/],
    ["encrypted.pdf", /encrypted \(password-protected\)/],
    ["scanned.pdf", /no text layer/],
    ["random.pdf", /not a PDF: it does not start with a %PDF- header/],
  ])("fails %s with a reason that says which problem it has", async (name, reason) => {
    const error = await parseDocument(fixture(name), { filename: name }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnprocessableDocumentError);
    expect((error as Error).message).toMatch(reason);
  });
});

describe("DOCX", () => {
  it("keeps Word headings and takes the title from the document properties", async () => {
    const doc = await parseDocument(fixture("guide.docx"), { filename: "guide.docx" });
    expect(doc).toMatchObject({ kind: "docx", title: "Heron Scanner Quick Guide" });
    expect(headings(doc)).toEqual(["", "Pairing", "Battery"]);
    expect(sectionText(doc, 2)).toContain("- Charge in the cradle only.");
  });

  it("refuses a zip bomb before extracting it", async () => {
    const error = await parseDocument(fixture("bomb.docx"), { filename: "bomb.docx" }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/would expand to more than 200 MiB .*zip bomb/);
  });

  it("refuses a zip with too many entries", async () => {
    const error = await parseDocument(fixture("guide.docx"), { filename: "guide.docx", zipLimits: { maxEntries: 3, maxUncompressedBytes: 1e9 } }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/zip entries, more than the limit of 3/);
  });
});

describe("HTML", () => {
  it("keeps headings, paragraphs and lists, and drops script, style, nav, hidden content and footer", async () => {
    const doc = await parseDocument(fixture("page.html"), { filename: "page.html" });
    expect(doc).toMatchObject({ kind: "html", title: "Osprey Label Printer FAQ" });
    expect(headings(doc)).toEqual(["Osprey Label Printer FAQ", "Osprey Label Printer FAQ > Which labels fit?", "Osprey Label Printer FAQ > Which labels fit? > Ribbons"]);
    for (const dropped of ["tracking", "analytics", "Products", "Limited offer", "font-family", "Copyright"]) expect(doc.text).not.toContain(dropped);
    expect(doc.text).toContain("direct thermal labels from 25 to 108 millimetres");
  });

  it("turns tables into rows of cells and lists into items", () => {
    const doc = parseHtml(Buffer.from("<h1>Parts</h1><table><tr><th>Part</th><th>Price</th></tr><tr><td>Wheel</td><td>$40</td></tr></table><ul><li>one</li><li>two <b>bold</b></li></ul>"));
    expect(doc.text).toContain("Part | Price\nWheel | $40");
    expect(doc.text).toContain("- one\n\n- two bold");
  });
});

describe("Markdown", () => {
  it("reads front matter, ATX and setext headings, and keeps code blocks intact", async () => {
    const doc = await parseDocument(fixture("notes.md"), { filename: "notes.md" });
    expect(doc.declared).toEqual({ title: "Merlin Gateway Notes", date: "2026-02-03", tags: ["gateway", "networking"] });
    expect(headings(doc)).toEqual(["Merlin gateway setup notes", "Merlin gateway setup notes > Configuration", "Merlin gateway setup notes > Setext subheading"]);
    expect(sectionText(doc, 1)).toContain("```bash\n# set the fieldbus address\nmerlinctl set bus.address 17\n# this comment is not a heading\n\nmerlinctl commit\n```");
    for (let i = 0; i < doc.sections.length; i += 1) expect(sectionText(doc, i)).not.toContain("title: Merlin"); // front matter is metadata, not text
  });

  it("keeps text before the first heading as its own section", () => {
    const doc = parseMarkdown(Buffer.from("Intro line.\n\n# One\n\nBody.\n"));
    expect(headings(doc)).toEqual(["", "One"]);
  });
});

describe("plain text", () => {
  it("decodes UTF-16 with a BOM", async () => {
    const doc = await parseDocument(fixture("utf16.txt"), { filename: "utf16.txt" });
    expect(doc.text).toContain("45 percent in the café");
  });

  it("falls back to Latin-1 when the bytes are not UTF-8", async () => {
    const doc = await parseDocument(fixture("latin1.txt"), { filename: "latin1.txt" });
    expect(doc.text).toContain("120 °C and closes in ½ second");
  });

  it("decodes UTF-16 without a BOM", () => {
    expect(parseText(Buffer.from("Heron notes about the scanner battery.", "utf16le")).text).toBe("Heron notes about the scanner battery.");
  });

  it("splits paragraphs at blank lines and takes the first line as title", () => {
    const doc = parseText(Buffer.from("Grebe valve\r\n\r\nFirst paragraph.\r\n\r\n\r\nSecond paragraph.\r\n"));
    expect(doc.title).toBe("Grebe valve");
    expect(doc.text).toBe("Grebe valve\n\nFirst paragraph.\n\nSecond paragraph.");
  });

  it.each([
    ["empty.txt", /empty \(0 bytes\)/],
    ["random.pdf", /not a PDF/],
  ])("rejects %s with a reason", async (name, reason) => {
    await expect(parseDocument(fixture(name), { filename: name })).rejects.toThrow(reason);
  });

  it("rejects binary junk that has a .txt name", () => {
    const junk = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 131 + 7) % 256).filter((b) => b !== 0));
    expect(() => parseText(junk)).toThrow(/binary data, not text/);
  });
});

describe("type detection", () => {
  it("trusts the bytes over the name", async () => {
    expect(await detectKind(fixture("manual.pdf"), { filename: "manual.txt" })).toBe("pdf");
    expect(await detectKind(Buffer.from("<!DOCTYPE html><html><body>x</body></html>"), { filename: "page.txt" })).toBe("html");
  });

  it("refuses binary formats it cannot index, naming what the bytes are", async () => {
    const png = Buffer.from("89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8cfc0f01f0005000201a5f24e9b0000000049454e44ae426082", "hex");
    const error = await detectKind(png, { filename: "diagram.pdf" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnsupportedMediaTypeError);
    expect((error as Error).message).toMatch(/"diagram.pdf" is image\/png by its content \(named as PDF\)/);
  });

  // Regression (issue 9, item 6): file-type reads "The free…" as QuickTime, "BM25…" as a bitmap.
  it.each([
    ["The free software movement.", "video/quicktime"],
    ["BM25 ranking notes: k1 and b.", "image/bmp"],
    ["MZ stands for Mark Zbikowski.", "application/x-msdownload"],
    ["ID3 tags hold the artist.", "audio/mpeg"],
    ["GIF89a added transparency.", "image/gif"],
    ["fLaC is the FLAC stream marker.", "audio/flac"],
    ["#!AMR starts an AMR file.", "audio/amr"],
  ])("reads a text named .md or .txt as text even when it starts like a binary format: %s", async (text, lookalike) => {
    for (const [filename, kind] of [["notes.md", "markdown"], ["notes.txt", "text"]] as const) {
      expect((await parseDocument(Buffer.from(text), { filename })).kind, `${filename} (${lookalike})`).toBe(kind);
    }
    expect(await detectKind(Buffer.from(text), { contentType: "text/markdown; charset=utf-8" })).toBe("markdown");
    expect(await detectKind(Buffer.from(text), { filename: "notes.html" })).toBe("html");
  });

  it("accepts every printable UTF-8 text named x.md or x.txt as that kind, whatever signature it starts with", async () => {
    const magic = fc.constantFrom("", "free", "BM", "MZ", "ID3", "GIF89a", "GIF87a", "fLaC", "#!AMR", "RIFF", "OggS", "{\\rtf1", "<?xml ", "WEBVTT");
    const printable = fc.string({ unit: "binary", minLength: 1, maxLength: 200 }).map((s) => s.replace(/[^\P{C}\n\t]/gu, ""));
    const body = fc.tuple(fc.string({ maxLength: 4 }), printable).map(([lead, rest]) => lead.replace(/[^\P{C}]/gu, "") + rest);
    await fc.assert(
      fc.asyncProperty(magic, body, fc.constantFrom(["x.md", "markdown"] as const, ["x.txt", "text"] as const), async (prefix, rest, [filename, kind]) => {
        const text = prefix + rest;
        fc.pre(text.trim() !== "");
        const doc = await parseDocument(Buffer.from(text, "utf8"), { filename });
        expect(doc.kind).toBe(kind);
      }),
      { numRuns: 300 },
    );
  });

  it("still refuses binary junk named .txt, saying it is binary", async () => {
    const junk = Buffer.from(Array.from({ length: 2000 }, (_, i) => (i * 131 + 7) % 256));
    await expect(parseDocument(junk, { filename: "junk.txt" })).rejects.toThrow(/binary/);
    const bitmap = Buffer.concat([Buffer.from("BM"), Buffer.alloc(64, 0)]);
    await expect(parseDocument(bitmap, { filename: "scan.txt" })).rejects.toThrow(/"scan.txt" is image\/bmp by its content \(named as TEXT\)/);
  });

  it("treats a real PDF or DOCX named .txt as what its bytes are", async () => {
    expect(await detectKind(fixture("guide.docx"), { filename: "guide.txt" })).toBe("docx");
    expect(await detectKind(fixture("manual.pdf"), { filename: "manual.md" })).toBe("pdf");
  });
});
