import { once } from "node:events";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { createDeflate } from "node:zlib";
import { afterAll, describe, expect, it } from "vitest";
import { UnprocessableDocumentError } from "../../core/errors.js";
import { createParsePool } from "./isolated.js";

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "..", "..", "test", "fixtures", name));
const MiB = 1024 * 1024;
const meta = { documentId: "d", version: 1, source: "test", tags: [] };
const chunking = { sizeTokens: 512, overlapRatio: 0.15, minSectionTokens: 64 };

/** `size` bytes of zeros, deflated in a stream (never held whole): about 1 KB per MB. */
async function deflatedZeros(size: number): Promise<Buffer> {
  const deflate = createDeflate({ level: 9 });
  const parts: Buffer[] = [];
  deflate.on("data", (part: Buffer) => parts.push(part));
  const zeros = Buffer.alloc(MiB);
  for (let written = 0; written < size; written += zeros.length) if (!deflate.write(zeros)) await once(deflate, "drain");
  deflate.end();
  await once(deflate, "end");
  return Buffer.concat(parts);
}

/** A one-page PDF with a line of text whose embedded TrueType font stream inflates to `inflated` bytes: the font-stream bomb of issue 9. */
async function pdfWithFontBomb(inflated: number): Promise<Buffer> {
  const font = await deflatedZeros(inflated);
  const content = "BT /F1 12 Tf 72 720 Td (Boiler inspection schedule) Tj ET";
  const objects: Buffer[] = [
    Buffer.from("<< /Type /Catalog /Pages 2 0 R >>"),
    Buffer.from("<< /Type /Pages /Kids [3 0 R] /Count 1 >>"),
    Buffer.from("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>"),
    Buffer.from("<< /Type /Font /Subtype /TrueType /BaseFont /Bomb /FontDescriptor 6 0 R >>"),
    Buffer.from(`<< /Length ${content.length} >>\nstream\n${content}\nendstream`),
    Buffer.from("<< /Type /FontDescriptor /FontName /Bomb /Flags 32 /FontBBox [0 0 1000 1000] /ItalicAngle 0 /Ascent 800 /Descent -200 /CapHeight 700 /StemV 80 /FontFile2 7 0 R >>"),
    Buffer.concat([Buffer.from(`<< /Length ${font.length} /Length1 ${inflated} /Filter /FlateDecode >>\nstream\n`), font, Buffer.from("\nendstream")]),
  ];
  const parts: Buffer[] = [Buffer.from("%PDF-1.4\n")];
  const offsets: number[] = [];
  let length = parts[0]!.length;
  objects.forEach((body, i) => {
    offsets.push(length);
    const object = Buffer.concat([Buffer.from(`${i + 1} 0 obj\n`), body, Buffer.from("\nendobj\n")]);
    parts.push(object);
    length += object.length;
  });
  const xref = [`xref\n0 ${objects.length + 1}\n`, "0000000000 65535 f \n", ...offsets.map((o) => `${String(o).padStart(10, "0")} 00000 n \n`)].join("");
  parts.push(Buffer.from(`${xref}trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${length}\n%%EOF\n`));
  return Buffer.concat(parts);
}

describe("parsing in isolated processes", () => {
  const pool = createParsePool({ processes: 2, timeoutMs: 20_000, maxMemoryMb: 256 });
  afterAll(() => pool.close());

  it("returns the document parsed and chunked with each chunking config", async () => {
    const doc = await pool.prepare(fixture("manual.pdf"), { filename: "manual.pdf", meta, chunking: [chunking, { ...chunking, sizeTokens: 256 }] });
    expect(doc).toMatchObject({ kind: "pdf", contentType: "application/pdf", title: "Kestrel Pump Service Manual" });
    expect(doc.chunks).toHaveLength(2);
    expect(doc.chunks[0]![0]).toMatchObject({ documentId: "d", contentType: "application/pdf", pageStart: 1 });
    expect(doc.chunks[1]!.length).toBeGreaterThanOrEqual(doc.chunks[0]!.length);
  });

  it("brings back the parser's typed error", async () => {
    const error = await pool.prepare(fixture("encrypted.pdf"), { filename: "encrypted.pdf", meta, chunking: [] }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: "unprocessable_document", message: expect.stringMatching(/encrypted/) });
  });

  it("stops a parse that runs past the time limit, and fails only that parse", async () => {
    const hasty = createParsePool({ processes: 1, timeoutMs: 5, maxMemoryMb: 256 });
    const slow = hasty.prepare(fixture("manual.pdf"), { filename: "manual.pdf", meta, chunking: [] }).catch((e: unknown) => e);
    const fine = pool.prepare(fixture("notes.md"), { filename: "notes.md", meta, chunking: [] });
    const error = await slow;
    expect(error).toBeInstanceOf(UnprocessableDocumentError);
    expect((error as Error).message).toMatch(/took longer than 0 s and was stopped/);
    expect((await fine).kind).toBe("markdown");
    await hasty.close();
  });

  it("stops a parse whose heap grows past the limit, and goes on with the next document", async () => {
    // 4.5 MB of Markdown that becomes hundreds of MB of syntax tree.
    const big = Buffer.from("# h\n\n- a *b* `c`\n\n".repeat(250_000));
    const small = createParsePool({ processes: 1, timeoutMs: 60_000, maxMemoryMb: 64 });
    const error = await small.prepare(big, { filename: "big.md", meta, chunking: [] }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/the document expands past 64 MB in memory while parsing/);
    // The pool replaces the process it lost and goes on parsing.
    expect((await small.prepare(fixture("notes.md"), { filename: "notes.md", meta, chunking: [chunking] })).chunks[0]!.length).toBeGreaterThan(0);
    await small.close();
  });

  it("stops a PDF whose font stream inflates past the limit outside the JS heap, before the timeout, and parses the next document", { timeout: 60_000 }, async () => {
    // About 500 KB that pdf.js inflates into a 512 MiB ArrayBuffer: a heap limit never sees it.
    const bomb = await pdfWithFontBomb(512 * MiB);
    const guarded = createParsePool({ processes: 1, timeoutMs: 50_000, maxMemoryMb: 160 });
    const error = await guarded.prepare(bomb, { filename: "bomb.pdf", meta, chunking: [chunking] }).catch((e: unknown) => e);
    // The memory reason, not the timeout's: it was stopped by its memory.
    expect(error).toBeInstanceOf(UnprocessableDocumentError);
    expect((error as Error).message).toMatch(/^the document expands past 160 MB in memory while parsing and was stopped \(ingest\.parseMaxMemoryMb\)$/);
    const next = await guarded.prepare(fixture("manual.pdf"), { filename: "manual.pdf", meta, chunking: [chunking] });
    expect(next.chunks[0]!.length).toBeGreaterThan(0);
    await guarded.close();
  });
});
