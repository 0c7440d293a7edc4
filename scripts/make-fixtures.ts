/**
 * Writes test/fixtures/ (good and bad documents) and the demo's PDF, DOCX and
 * HTML examples from examples/sources/. Deterministic: run it again and the
 * text of every document is the same. Usage: npm run fixtures
 */
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import yazl from "yazl";
import { renderDocx, renderHtml, renderPdf, renderPdfWithoutText, type SourceDocument } from "./render-documents.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const fixtures = join(root, "test", "fixtures");

const manual: SourceDocument = {
  title: "Kestrel Pump Service Manual",
  sections: [
    { heading: "Installation", level: 1, paragraphs: ["Mount the Kestrel pump on a level concrete plinth and bolt the base frame with four M12 anchors torqued to 45 newton metres."] },
    {
      heading: "Linux controller",
      level: 2,
      paragraphs: Array.from({ length: 9 }, (_, i) => `Step ${i + 1} of the controller setup: install the kestrel-agent package, then edit /etc/kestrel/agent.toml so that the pump serial number and the flow sensor calibration constant ${100 + i * 7} match the plate on the housing. Restart the agent and confirm that the green status lamp blinks twice.`),
    },
    {
      heading: "Maintenance",
      level: 1,
      paragraphs: Array.from({ length: 9 }, (_, i) => `Quarterly task ${i + 1}: close the isolation valves, drain the volute through the lower plug, and inspect the impeller vanes for cavitation pitting; replace the mechanical seal kit KS-${40 + i} when the weep rate exceeds three drops per minute.`),
    },
    { heading: "Troubleshooting", level: 1, paragraphs: ["If the pump hums but does not turn, the start capacitor has failed: replace capacitor C7 with a 40 microfarad part rated for 450 volts."] },
  ],
};

const guide: SourceDocument = {
  title: "Heron Scanner Quick Guide",
  sections: [
    {
      heading: "Pairing",
      level: 1,
      paragraphs: [
        "Hold the trigger for five seconds until the Heron scanner beeps three times, then scan the pairing barcode printed on the cradle.",
        "A paired scanner shows a steady blue lamp. If the lamp blinks red, the cradle is already paired with another scanner: press the cradle's reset pin for two seconds and pair again.",
      ],
    },
    {
      heading: "Battery",
      level: 1,
      paragraphs: [
        "A full charge of the Heron lithium battery lasts fourteen hours of continuous scanning at one scan every six seconds.",
        "Replace the battery when a full charge lasts less than eight hours; the part number is HB-200 and it ships with a new door gasket.",
      ],
      bullets: ["Charge in the cradle only.", "Store at 40 percent charge."],
    },
  ],
};

const page: SourceDocument = {
  title: "Osprey Label Printer FAQ",
  sections: [
    { heading: "Which labels fit?", level: 1, paragraphs: ["The Osprey printer takes direct thermal labels from 25 to 108 millimetres wide on a 40 millimetre core."] },
    { heading: "Ribbons", level: 2, paragraphs: ["Osprey is a direct thermal printer, so it needs no ribbon and no toner cartridge."] },
  ],
};

const notes = `---
title: Merlin Gateway Notes
date: 2026-02-03
tags: [gateway, networking]
---

Merlin gateway setup notes
==========================

The Merlin gateway bridges the shop-floor fieldbus to the plant network.

## Configuration

Write the configuration file before first boot:

\`\`\`bash
# set the fieldbus address
merlinctl set bus.address 17
# this comment is not a heading

merlinctl commit
\`\`\`

Setext subheading
-----------------

Reboot the Merlin gateway after committing; the amber lamp turns green within ninety seconds.
`;

function seededBytes(length: number, seed: number): Buffer {
  const out = Buffer.alloc(length);
  let state = seed >>> 0;
  for (let i = 0; i < length; i += 1) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state >>> 24;
  }
  return out;
}

/** A DOCX-shaped zip whose one extra part inflates from about 300 KB to 300 MB. */
function zipBomb(): Promise<Buffer> {
  const zip = new yazl.ZipFile();
  const mtime = new Date("2026-01-15T00:00:00Z");
  zip.addBuffer(Buffer.from('<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"/>'), "[Content_Types].xml", { mtime });
  zip.addBuffer(Buffer.from('<?xml version="1.0"?><w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body/></w:document>'), "word/document.xml", { mtime });
  zip.addBuffer(Buffer.alloc(300 * 1024 * 1024, 0x20), "word/media/padding.xml", { mtime, compressionLevel: 9 });
  zip.end();
  const parts: Buffer[] = [];
  return new Promise((resolve, reject) => {
    zip.outputStream.on("data", (part: Buffer) => parts.push(part));
    zip.outputStream.on("end", () => resolve(Buffer.concat(parts)));
    zip.outputStream.on("error", reject);
  });
}

async function main(): Promise<void> {
  mkdirSync(fixtures, { recursive: true });
  const write = (name: string, data: Buffer | string) => {
    writeFileSync(join(fixtures, name), data);
    console.log(`  ${name} (${Buffer.byteLength(data)} bytes)`);
  };
  console.log(`writing ${fixtures}`);
  const manualPdf = await renderPdf(manual);
  write("manual.pdf", manualPdf);
  write("guide.docx", await renderDocx(guide));
  write("page.html", renderHtml(page));
  write("notes.md", notes);
  write("utf16.txt", Buffer.concat([Buffer.from([0xff, 0xfe]), Buffer.from("Plover sensor notes\n\nThe Plover humidity sensor reads 45 percent in the café.\n", "utf16le")]));
  write("latin1.txt", Buffer.from("Grebe valve notes\n\nThe Grebe valve is rated to 120 °C and closes in ½ second.\n", "latin1"));
  write("truncated.pdf", manualPdf.subarray(0, Math.floor(manualPdf.length * 0.6)));
  write("encrypted.pdf", await renderPdf(guide, { userPassword: "s3cret" }));
  write("scanned.pdf", await renderPdfWithoutText(2));
  write("random.pdf", seededBytes(20_000, 42));
  write("bomb.docx", await zipBomb());
  write("empty.txt", Buffer.alloc(0));

  const sources = join(root, "examples", "sources");
  const corpus = join(root, "examples", "corpus");
  const renderers: Record<string, (doc: SourceDocument) => Promise<Buffer | string> | string> = {
    "tern-amr-hardware-specification": (d) => renderPdf(d),
    "quarterly-maintenance-checklist": (d) => renderDocx(d),
    "customer-faq": (d) => renderHtml(d),
  };
  const extension: Record<string, string> = { "tern-amr-hardware-specification": "pdf", "quarterly-maintenance-checklist": "docx", "customer-faq": "html" };
  console.log(`writing ${corpus}`);
  for (const file of readdirSync(sources).filter((f) => f.endsWith(".json") && f !== "queries.json")) {
    const name = file.replace(/\.json$/, "");
    const render = renderers[name];
    if (!render) continue;
    const doc = JSON.parse(readFileSync(join(sources, file), "utf8")) as SourceDocument;
    const out = join(corpus, `${name}.${extension[name]}`);
    const data = await render(doc);
    writeFileSync(out, data);
    console.log(`  ${name}.${extension[name]} (${Buffer.byteLength(data)} bytes)`);
  }
}

await main();
