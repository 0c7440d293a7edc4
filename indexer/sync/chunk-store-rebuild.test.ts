import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { chunkRecordsOf } from "./chunk-store-rebuild.js";
import type { DocumentManifest, ManifestChunk } from "./manifest.js";

const chunk = (hash: string, text: string, headingPath: string[] = []): ManifestChunk => ({ hash, text, ordinal: 0, tokenCount: 1, headingPath, charStart: 0, charEnd: text.length });

function manifest(documentId: string, chunks: ManifestChunk[], tags: string[] = []): DocumentManifest {
  return {
    documentId,
    version: 1,
    profile: "p",
    source: `${documentId}.md`,
    rawKey: `uploads/${documentId}`,
    fingerprint: { size: 1, sha256: "x" },
    title: `Title of ${documentId}`,
    contentType: "text/markdown",
    tags,
    chunks,
    indexedAt: "2026-12-02T00:00:00Z",
  };
}

describe("chunk records rebuilt from manifests", () => {
  it("shows a shared chunk as its smallest document has it, listing every document that holds it", () => {
    const records = chunkRecordsOf([manifest("b", [chunk("h1", "shared", ["B"])], ["x"]), manifest("a", [chunk("h1", "shared", ["A"]), chunk("h2", "own")], ["y"])]);
    expect(records.get("h1")).toEqual({ documentId: "a", documentIds: ["a", "b"], text: "shared", title: "Title of a", source: "a.md", headingPath: ["A"], tags: ["x", "y"], contentType: "text/markdown" });
    expect(records.get("h2")).toMatchObject({ documentId: "a", documentIds: ["a"], text: "own" });
  });

  it("gives every chunk of every manifest one entry, the same whatever order the manifests are read in", () => {
    const doc = fc.record({ id: fc.constantFrom("a", "b", "c", "d"), hashes: fc.uniqueArray(fc.constantFrom<string>("h1", "h2", "h3", "h4", "h5"), { maxLength: 4 }), tags: fc.uniqueArray(fc.constantFrom("t1", "t2", "t3"), { maxLength: 2 }) });
    fc.assert(
      fc.property(fc.uniqueArray(doc, { selector: (d) => d.id, minLength: 1, maxLength: 4 }), fc.nat(), (docs, seed) => {
        const manifests = docs.map((d) => manifest(d.id, d.hashes.map((h) => chunk(h, `text ${h}`, [d.id])), d.tags));
        const shuffled = [...manifests].sort((x, y) => ((x.documentId.charCodeAt(0) * 31 + seed) % 7) - ((y.documentId.charCodeAt(0) * 31 + seed) % 7));
        const records = chunkRecordsOf(shuffled);
        expect(records).toEqual(chunkRecordsOf(manifests));
        const allHashes = new Set(docs.flatMap((d) => d.hashes));
        expect(new Set(records.keys())).toEqual(allHashes);
        for (const [hash, record] of records) {
          const holders = docs.filter((d) => d.hashes.includes(hash)).map((d) => d.id).sort();
          expect(record.documentIds).toEqual(holders);
          expect(record.documentId).toBe(holders[0]);
          expect(record.headingPath).toEqual([holders[0]]);
          expect(record.tags).toEqual([...new Set(docs.filter((d) => holders.includes(d.id)).flatMap((d) => d.tags))].sort());
        }
      }),
    );
  });
});
