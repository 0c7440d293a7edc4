import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkDocument } from "./chunk-document.js";
import { groupSections } from "./chunking/sections.js";
import { splitBlocks } from "./chunking/spans.js";
import { parseMarkdown } from "./parsers/markdown.js";
import { countTokens } from "./tokenizer.js";
import type { Chunk, ChunkingOptions, ParsedDocument } from "./types.js";

const WORDS = "dock battery lidar wheel caster firmware zone map robot charge fleet sensor motor brake route shelf aisle pallet tote scan".split(" ");

const word = fc.constantFrom(...WORDS);
const sentence = fc.array(word, { minLength: 3, maxLength: 30 }).map((ws) => `${ws.join(" ")}.`);
// Mostly ordinary paragraphs, sometimes one longer than any window, to reach the sentence and word levels.
const paragraph = fc.oneof(
  { weight: 8, arbitrary: fc.array(sentence, { minLength: 1, maxLength: 8 }).map((ss) => ss.join(" ")) },
  { weight: 1, arbitrary: fc.array(sentence, { minLength: 30, maxLength: 90 }).map((ss) => ss.join(" ")) },
  { weight: 1, arbitrary: fc.array(word, { minLength: 300, maxLength: 900 }).map((ws) => ws.join(" ")) },
);
interface SectionSpec {
  level: number;
  heading: string;
  paragraphs: string[];
}
const section: fc.Arbitrary<SectionSpec> = fc.record({
  level: fc.integer({ min: 1, max: 3 }),
  heading: fc.array(word, { minLength: 1, maxLength: 4 }).map((ws) => ws.join(" ")),
  paragraphs: fc.array(paragraph, { minLength: 0, maxLength: 6 }),
});
const doc = fc.array(section, { minLength: 1, maxLength: 8 });
const options: fc.Arbitrary<ChunkingOptions> = fc.record({
  sizeTokens: fc.integer({ min: 256, max: 1024 }),
  overlapRatio: fc.double({ min: 0.1, max: 0.2, noNaN: true }),
  minSectionTokens: fc.integer({ min: 0, max: 128 }),
});

const render = (sections: SectionSpec[]) => sections.map((s) => [`${"#".repeat(s.level)} ${s.heading}`, ...s.paragraphs].join("\n\n")).join("\n\n") + "\n";
const meta = { documentId: "d", version: 1, source: "d.md", contentType: "text/markdown", tags: [] };

function chunk(sections: SectionSpec[], opts: ChunkingOptions): { parsed: ParsedDocument; chunks: Chunk[] } {
  const parsed = parseMarkdown(Buffer.from(render(sections)));
  return { parsed, chunks: chunkDocument(parsed, meta, opts) };
}

/** A chunk's text: the heading path of the section it starts in, a blank line, then the document text it covers. */
function withContext(parsed: ParsedDocument, c: Chunk): string {
  const slice = parsed.text.slice(c.charStart, c.charEnd);
  const path = parsed.sections[c.sectionIndex]!.headingPath;
  return path.length ? `${path.join(" > ")}\n\n${slice}` : slice;
}

/** Indexes of the sections a chunk's text touches. */
function sectionsOf(parsed: ParsedDocument, c: Chunk): number[] {
  return parsed.sections.flatMap((s, i) => (s.charStart < c.charEnd && c.charStart < s.charEnd ? [i] : []));
}

describe("chunkDocument invariants", () => {
  it("covers every character of every section's body, within the size bound, with overlap within its bound", () => {
    fc.assert(
      fc.property(doc, options, (sections, opts) => {
        const { parsed, chunks } = chunk(sections, opts);
        const overlapTokens = Math.floor(opts.sizeTokens * opts.overlapRatio);
        const covered = new Uint8Array(parsed.text.length);
        for (const c of chunks) {
          expect(c.text).toBe(withContext(parsed, c));
          expect(c.tokenCount).toBe(countTokens(c.text));
          expect(c.tokenCount).toBeLessThanOrEqual(opts.sizeTokens);
          covered.fill(1, c.charStart, c.charEnd);
        }
        // Heading lines are carried by the heading paths; every other character is in some chunk.
        const headingLine = new Uint8Array(parsed.text.length);
        for (const m of parsed.text.matchAll(/^#.*$/gm)) headingLine.fill(1, m.index, m.index + m[0].length);
        for (const s of parsed.sections) {
          for (let i = s.charStart; i < s.charEnd; i += 1) {
            if (!headingLine[i] && !/\s/.test(parsed.text[i] ?? "")) expect(covered[i], `character ${i} of section ${s.headingPath.join(">")}`).toBe(1);
          }
        }
        for (let i = 1; i < chunks.length; i += 1) {
          const previous = chunks[i - 1]!;
          const current = chunks[i]!;
          expect(current.charStart).toBeGreaterThan(previous.charStart);
          if (current.charStart < previous.charEnd) expect(countTokens(parsed.text.slice(current.charStart, previous.charEnd))).toBeLessThanOrEqual(overlapTokens);
        }
      }),
      { numRuns: 60 },
    );
  }, 120_000);

  it("never lets a window cross into another section except from a section below the minimum size", () => {
    fc.assert(
      fc.property(doc, options, (sections, opts) => {
        const { parsed, chunks } = chunk(sections, opts);
        for (const c of chunks) {
          const touched = sectionsOf(parsed, c);
          for (const i of touched.slice(0, -1)) {
            const s = parsed.sections[i]!;
            expect(countTokens(parsed.text.slice(s.charStart, s.charEnd))).toBeLessThan(opts.minSectionTokens);
          }
        }
      }),
      { numRuns: 60 },
    );
  });

  it("gives the same chunks and hashes for the same bytes and config", () => {
    fc.assert(
      fc.property(doc, options, (sections, opts) => {
        expect(chunk(sections, opts).chunks).toEqual(chunk(sections, opts).chunks);
      }),
      { numRuns: 20 },
    );
  });
});

type Edit = { kind: "insert"; at: number; text: string } | { kind: "delete"; at: number } | { kind: "change"; at: number; wordAt: number; word: string };
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant("insert" as const), at: fc.nat(), text: paragraph }),
  fc.record({ kind: fc.constant("delete" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("change" as const), at: fc.nat(), wordAt: fc.nat(), word: fc.constantFrom("gearbox", "quartz", "pendulum") }),
);

function applyEdit(sections: SectionSpec[], target: number, e: Edit): SectionSpec[] {
  const copy = sections.map((s) => ({ ...s, paragraphs: [...s.paragraphs] }));
  const s = copy[target]!;
  if (e.kind === "insert") s.paragraphs.splice(e.at % (s.paragraphs.length + 1), 0, e.text);
  else if (s.paragraphs.length === 0) s.paragraphs.push("brake check.");
  else if (e.kind === "delete") s.paragraphs.splice(e.at % s.paragraphs.length, 1);
  else {
    const i = e.at % s.paragraphs.length;
    const words = s.paragraphs[i]!.split(" ");
    words[e.wordAt % words.length] = e.word;
    s.paragraphs[i] = words.join(" ");
  }
  return copy;
}

describe("locality of edits", () => {
  it("changes only chunks of the edited section and the sections joined to it", () => {
    fc.assert(
      fc.property(doc, fc.nat(), edit, options, (sections, pick, e, opts) => {
        const target = pick % sections.length;
        const before = chunk(sections, opts);
        const after = chunk(applyEdit(sections, target, e), opts);
        expect(after.parsed.sections.length).toBe(before.parsed.sections.length);
        // The groups (sections joined because one was tiny) that hold the edited section, before or after.
        const affected = new Set<number>();
        for (const { parsed } of [before, after]) {
          const blocks = parsed.sections.map((s) => splitBlocks(parsed.text, s.charStart, s.charEnd));
          for (const g of groupSections(parsed.sections, blocks, opts.minSectionTokens)) {
            if (g.first <= target && target <= g.last) for (let i = g.first; i <= g.last; i += 1) affected.add(i);
          }
        }
        const oldHashes = new Set(before.chunks.map((c) => c.hash));
        const newHashes = new Set(after.chunks.map((c) => c.hash));
        for (const c of after.chunks.filter((c) => !oldHashes.has(c.hash))) expect(sectionsOf(after.parsed, c).every((i) => affected.has(i))).toBe(true);
        for (const c of before.chunks.filter((c) => !newHashes.has(c.hash))) expect(sectionsOf(before.parsed, c).every((i) => affected.has(i))).toBe(true);
      }),
      { numRuns: 80 },
    );
  });

  it("re-chunks a paragraph inserted into a long section without touching the rest of that section's far chunks", () => {
    const long: SectionSpec = { level: 2, heading: "long", paragraphs: Array.from({ length: 40 }, (_, i) => `${WORDS[i % WORDS.length]} ${"route shelf aisle pallet tote scan ".repeat(10)}${i}.`) };
    const opts = { sizeTokens: 256, overlapRatio: 0.15, minSectionTokens: 64 };
    const before = chunk([long], opts).chunks;
    const inserted = `brake ${"motor sensor charge fleet map zone ".repeat(10)}done.`; // as long as its neighbours
    const after = chunk([{ ...long, paragraphs: [...long.paragraphs.slice(0, 3), inserted, ...long.paragraphs.slice(3)] }], opts).chunks;
    const oldHashes = new Set(before.map((c) => c.hash));
    // A fixed window over the whole section would shift every later boundary; content-defined cuts keep them.
    expect(after.filter((c) => !oldHashes.has(c.hash)).length).toBeLessThanOrEqual(2);
    expect(before.length).toBeGreaterThan(8);
  });
});

describe("chunk metadata", () => {
  it("carries heading path, title, tags and date from the document", () => {
    const parsed = parseMarkdown(Buffer.from("---\ntitle: Dock Guide\ntags: [hardware]\ndate: 2026-03-14\n---\n# Dock\n\n## Power\n\nUse a dedicated 16 amp breaker for the dock.\n"));
    const [first] = chunkDocument(parsed, { ...meta, tags: ["upload-tag"] }, { sizeTokens: 512, overlapRatio: 0.15, minSectionTokens: 64 });
    expect(first).toMatchObject({ title: "Dock Guide", headingPath: ["Dock", "Power"], tags: ["upload-tag", "hardware"], date: "2026-03-14", contentType: "text/markdown" });
    expect(first!.hash).toMatch(/^[0-9a-f]{64}$/);
  });
});

/** Item 8 of issue 9: a title or heading line alone made a 5–26-token chunk that crowded search results. */
describe("headings join the text under them", () => {
  const opts = { sizeTokens: 256, overlapRatio: 0.15, minSectionTokens: 64 };
  const longParagraph = Array.from({ length: 40 }, (_, i) => `The pump ${WORDS[i % WORDS.length]} moves water from the tank to the field.`).join(" ");

  it("never makes a chunk of a title line that stands alone before a paragraph longer than a window", () => {
    const chunks = chunkDocument(parseMarkdown(Buffer.from(`# Kestrel pump\n\n${longParagraph}\n`)), meta, opts);
    expect(chunks.length).toBeGreaterThan(1);
    for (const c of chunks) expect(c.text).toMatch(/moves water/);
  });

  it("never makes a chunk of a title section, even with minSectionTokens 0", () => {
    const chunks = chunkDocument(parseMarkdown(Buffer.from("# Kestrel pump\n\n## Install\n\nBolt the pump to the frame.\n")), meta, { ...opts, minSectionTokens: 0 });
    expect(chunks.map((c) => c.text)).toEqual(["Kestrel pump > Install\n\nBolt the pump to the frame."]);
    expect(chunks[0]!.headingPath).toEqual(["Kestrel pump", "Install"]);
  });

  it("starts every chunk, not only a section's first, with its heading path", () => {
    const parsed = parseMarkdown(Buffer.from(`# Kestrel pump\n\n## Service\n\n${longParagraph}\n\n${longParagraph}\n`));
    const chunks = chunkDocument(parsed, meta, opts);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      expect(c.headingPath).toEqual(["Kestrel pump", "Service"]);
      expect(c.text).toBe(`Kestrel pump > Service\n\n${parsed.text.slice(c.charStart, c.charEnd)}`);
      expect(c.tokenCount).toBe(countTokens(c.text));
    }
  });

  it("keeps the headings of joined sections after the first in the text, where they stand", () => {
    const parsed = parseMarkdown(Buffer.from("# Dock\n\n## Placement\n\nMount the dock on a wall.\n\n## Power\n\nUse a 16 amp breaker.\n"));
    const chunks = chunkDocument(parsed, meta, opts);
    // The text starts with where it starts; headingPath stays what all of it sits under.
    expect(chunks.map((c) => [c.headingPath, c.text])).toEqual([[["Dock"], "Dock > Placement\n\nMount the dock on a wall.\n\n## Power\n\nUse a 16 amp breaker."]]);
  });

  it("shortens a heading path too long for the context line, keeping the deepest heading, within the size bound", () => {
    const outline = Array.from({ length: 60 }, (_, i) => WORDS[i % WORDS.length]).join(" "); // a PDF outline entry can be a sentence
    const parsed = parseMarkdown(Buffer.from(`# ${outline}\n\n## Brake\n\n${longParagraph}\n\n### ${outline} again\n\n${longParagraph}\n`));
    const chunks = chunkDocument(parsed, meta, opts);
    for (const c of chunks) expect(c.tokenCount).toBeLessThanOrEqual(opts.sizeTokens);
    // "outline > Brake" is over an eighth of the window: the outer heading goes.
    expect(chunks[0]!.text.split("\n")[0]).toBe("Brake");
    // The deepest heading alone is too long: its first words.
    expect(chunks.at(-1)!.text).toMatch(/^dock battery lidar .* …\n\nThe pump/);
  });

  it("gives a document of headings only no chunk", () => {
    expect(chunkDocument(parseMarkdown(Buffer.from("# A\n\n## B\n\n### C\n")), meta, opts)).toEqual([]);
  });

  // Sections as the property below generates them: ATX or setext headings, sometimes no body (a heading
  // right before another heading), and sometimes a heading at the very end of the document.
  const headed = fc.record({
    level: fc.integer({ min: 1, max: 3 }),
    setext: fc.boolean(),
    heading: fc.array(word, { minLength: 1, maxLength: 4 }).map((ws) => ws.join(" ")),
    paragraphs: fc.oneof({ weight: 2, arbitrary: fc.constant<string[]>([]) }, { weight: 3, arbitrary: fc.array(paragraph, { minLength: 1, maxLength: 4 }) }),
  });
  const headedDoc = fc.tuple(fc.option(paragraph, { nil: undefined }), fc.array(headed, { minLength: 1, maxLength: 8 }), fc.array(headed.map((h) => ({ ...h, paragraphs: [] })), { maxLength: 2 }));

  it("makes no chunk of heading lines only, and covers all body text, for any mix of headings and paragraphs", () => {
    fc.assert(
      fc.property(headedDoc, options, ([preamble, sections, trailing], opts) => {
        const parts: string[] = preamble ? [preamble] : [];
        const headingLines = new Set<string>();
        for (const s of [...sections, ...trailing]) {
          const line = s.setext && s.level <= 2 ? `${s.heading}\n${s.level === 1 ? "===" : "---"}` : `${"#".repeat(s.level)} ${s.heading}`;
          for (const l of line.split("\n")) headingLines.add(l);
          parts.push(line, ...s.paragraphs);
        }
        const source = `${parts.join("\n\n")}\n`;
        const bodies: Array<[number, number]> = [];
        let at = 0;
        for (const part of parts) {
          const start = source.indexOf(part, at);
          if (!headingLines.has(part.split("\n")[0]!) || part === preamble) bodies.push([start, start + part.length]);
          at = start + part.length;
        }
        const parsed = parseMarkdown(Buffer.from(source));
        expect(parsed.text).toBe(source);
        const chunks = chunkDocument(parsed, meta, opts);
        const covered = new Uint8Array(source.length);
        for (const c of chunks) {
          const slice = source.slice(c.charStart, c.charEnd);
          expect(c.text).toBe(withContext(parsed, c));
          // Every heading above any of the chunk's text is in the chunk's text.
          for (const i of sectionsOf(parsed, c)) for (const h of parsed.sections[i]!.headingPath) expect(c.text).toContain(h);
          expect(c.tokenCount).toBe(countTokens(c.text));
          expect(c.tokenCount).toBeLessThanOrEqual(opts.sizeTokens);
          const body = slice.split("\n").filter((l) => l.trim() && !headingLines.has(l));
          expect(body.length, `chunk ${c.ordinal} is only headings: ${JSON.stringify(c.text)}`).toBeGreaterThan(0);
          covered.fill(1, c.charStart, c.charEnd);
        }
        for (const [start, end] of bodies) {
          for (let i = start; i < end; i += 1) if (!/\s/.test(source[i]!)) expect(covered[i], `body character ${i}`).toBe(1);
        }
      }),
      { numRuns: 80 },
    );
  }, 120_000);
});
