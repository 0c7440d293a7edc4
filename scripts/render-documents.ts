/**
 * Renders a structured document (title, sections, paragraphs, bullets) as a
 * real PDF (pdfkit, with an outline), DOCX (docx) or HTML page, for the demo's
 * examples and the test fixtures. Dev-only: the product parses these formats,
 * it never writes them.
 */
import { AlignmentType, Document, HeadingLevel, Packer, Paragraph, TextRun } from "docx";
import PDFDocument from "pdfkit";

export interface SourceSection {
  heading: string;
  level: 1 | 2;
  paragraphs: string[];
  bullets?: string[];
}

export interface SourceDocument {
  title: string;
  date?: string;
  tags?: string[];
  sections: SourceSection[];
}

const FIXED_DATE = new Date("2026-01-15T00:00:00Z");

export function renderPdf(doc: SourceDocument, options: { userPassword?: string } = {}): Promise<Buffer> {
  const pdf = new PDFDocument({
    size: "A4",
    margin: 64,
    info: { Title: doc.title, CreationDate: FIXED_DATE, ModDate: FIXED_DATE, Producer: "ragops fixtures", Creator: "ragops fixtures" },
    ...(options.userPassword ? { userPassword: options.userPassword, ownerPassword: `${options.userPassword}-owner`, pdfVersion: "1.7" as const } : {}),
  });
  const done = collect(pdf);
  pdf.font("Helvetica-Bold").fontSize(22).text(doc.title);
  const top = pdf.outline.addItem(doc.title);
  let parent = top;
  pdf.moveDown();
  for (const section of doc.sections) {
    if (section.level === 1 && pdf.y > 560) pdf.addPage(); // chapters start high on a page, as in a real manual
    pdf.font("Helvetica-Bold").fontSize(section.level === 1 ? 16 : 13).text(section.heading);
    const item = (section.level === 1 ? top : parent).addItem(section.heading);
    if (section.level === 1) parent = item;
    pdf.moveDown(0.4);
    pdf.font("Helvetica").fontSize(11);
    for (const paragraph of section.paragraphs) {
      pdf.text(paragraph, { align: "left" });
      pdf.moveDown(0.6);
    }
    for (const bullet of section.bullets ?? []) pdf.text(`- ${bullet}`, { indent: 12 });
    if (section.bullets?.length) pdf.moveDown(0.6);
  }
  pdf.end();
  return done;
}

/** A PDF whose pages hold only drawings: what a scan without OCR looks like to a text extractor. */
export function renderPdfWithoutText(pages: number): Promise<Buffer> {
  const pdf = new PDFDocument({ size: "A4", info: { CreationDate: FIXED_DATE, ModDate: FIXED_DATE } });
  const done = collect(pdf);
  for (let page = 0; page < pages; page += 1) {
    if (page > 0) pdf.addPage();
    for (let line = 0; line < 30; line += 1) pdf.rect(70, 80 + line * 22, 300 + ((line * 37) % 150), 9).fill("#444444");
  }
  pdf.end();
  return done;
}

export async function renderDocx(doc: SourceDocument): Promise<Buffer> {
  const children: Paragraph[] = [new Paragraph({ text: doc.title, heading: HeadingLevel.TITLE })];
  for (const section of doc.sections) {
    children.push(new Paragraph({ text: section.heading, heading: section.level === 1 ? HeadingLevel.HEADING_1 : HeadingLevel.HEADING_2 }));
    for (const paragraph of section.paragraphs) children.push(new Paragraph({ children: [new TextRun(paragraph)], alignment: AlignmentType.LEFT }));
    for (const bullet of section.bullets ?? []) children.push(new Paragraph({ text: bullet, bullet: { level: 0 } }));
  }
  const document = new Document({ title: doc.title, creator: "ragops fixtures", sections: [{ children }] });
  return Packer.toBuffer(document);
}

export function renderHtml(doc: SourceDocument): string {
  const escape = (text: string) => text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  const body = doc.sections
    .map((section) => {
      const tag = section.level === 1 ? "h2" : "h3";
      const paragraphs = section.paragraphs.map((p) => `      <p>${escape(p)}</p>`).join("\n");
      const bullets = section.bullets?.length ? `\n      <ul>\n${section.bullets.map((b) => `        <li>${escape(b)}</li>`).join("\n")}\n      </ul>` : "";
      return `    <section>\n      <${tag}>${escape(section.heading)}</${tag}>\n${paragraphs}${bullets}\n    </section>`;
    })
    .join("\n");
  return `<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>${escape(doc.title)}</title>
  <style>body { font-family: sans-serif; } .promo { color: red; }</style>
  <script>window.analytics = { track: function () { return "tracking pixel"; } };</script>
</head>
<body>
  <nav><a href="/">Home</a> | <a href="/products">Products</a> | <a href="/support">Support</a></nav>
  <div class="promo" style="display: none">Limited offer: hidden promotional banner text</div>
  <main>
    <h1>${escape(doc.title)}</h1>
${body}
  </main>
  <footer><p>Copyright 2026 Northwind Robotics. All rights reserved.</p></footer>
  <script>document.querySelectorAll("a").forEach(function (a) { a.dataset.tracked = "yes"; });</script>
</body>
</html>
`;
}

function collect(pdf: PDFKit.PDFDocument): Promise<Buffer> {
  const parts: Buffer[] = [];
  return new Promise((resolve, reject) => {
    pdf.on("data", (part: Buffer) => parts.push(part));
    pdf.on("end", () => resolve(Buffer.concat(parts)));
    pdf.on("error", reject);
  });
}
