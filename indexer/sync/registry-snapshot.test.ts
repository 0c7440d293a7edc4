import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { DocumentManifest, ManifestChunk } from "./manifest.js";
import { deriveRegistry, wantedMetadata, type DeriveRule } from "./registry-snapshot.js";

const rule: DeriveRule = { minhash: { permutations: 64, shingleWords: 2, bands: 16 }, threshold: 0.8, nearDuplicates: true };

/** Passages from a small pool; variant 1 of a passage changes one word of 60, so it is a near-duplicate of variant 0. */
function passage(topic: number, variant: number): { hash: string; text: string } {
  const words = Array.from({ length: 60 }, (_, i) => `t${topic}w${i}`);
  if (variant === 1) words[30] = `variant${topic}`;
  return { hash: `h${topic}v${variant}`, text: words.join(" ") };
}

const chunk = ({ hash, text }: { hash: string; text: string }, ordinal: number): ManifestChunk => ({ hash, text, ordinal, tokenCount: 60, headingPath: [], charStart: 0, charEnd: text.length });

function manifest(documentId: string, passages: Array<{ hash: string; text: string }>, tags: string[]): DocumentManifest {
  const unique = [...new Map(passages.map((p) => [p.hash, p])).values()];
  return { documentId, version: 1, profile: "p", source: `${documentId}.md`, rawKey: `uploads/${documentId}`, fingerprint: { size: 1, sha256: "x" }, title: documentId, contentType: "text/markdown", tags, chunks: unique.map(chunk), indexedAt: "2026-01-01T00:00:00Z" };
}

const corpus = fc
  .uniqueArray(
    fc.record({
      id: fc.constantFrom("a", "b", "c", "d"),
      passages: fc.array(fc.record({ topic: fc.integer({ min: 0, max: 4 }), variant: fc.integer({ min: 0, max: 1 }) }), { minLength: 1, maxLength: 5 }),
      tags: fc.subarray(["x", "y"]),
    }),
    { selector: (d) => d.id, minLength: 1 },
  )
  .map((docs) => docs.map((d) => manifest(d.id, d.passages.map((p) => passage(p.topic, p.variant)), d.tags)));

describe("a registry derived from the manifests", () => {
  it("places every chunk: indexed, or a near-duplicate of an indexed chunk; what an index holds stays indexed; references are the manifests'", async () => {
    await fc.assert(
      fc.asyncProperty(corpus, fc.subarray(Array.from({ length: 5 }, (_, t) => [`h${t}v0`, `h${t}v1`]).flat()), async (manifests, held) => {
        const snapshot = await deriveRegistry(manifests, (h) => held.includes(h), rule);
        for (const m of manifests) {
          expect(snapshot.docRefs.get(m.documentId)).toEqual(new Set(m.chunks.map((c) => c.hash)));
          expect(snapshot.docMeta.get(m.documentId)).toEqual({ tags: m.tags, contentType: m.contentType });
          for (const c of m.chunks) {
            expect(snapshot.refs.get(c.hash)?.has(m.documentId)).toBe(true);
            const standIn = snapshot.canonical.has(c.hash) ? c.hash : snapshot.dupOf.get(c.hash);
            expect(standIn !== undefined && snapshot.canonical.has(standIn), `${c.hash} is findable`).toBe(true);
          }
        }
        for (const h of held) if (snapshot.refs.has(h)) expect(snapshot.canonical.has(h)).toBe(true);
        for (const h of snapshot.dupOf.keys()) expect(snapshot.canonical.has(h)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });

  it("does not depend on the order the manifests are read in", async () => {
    await fc.assert(
      fc.asyncProperty(corpus, async (manifests) => {
        const forward = await deriveRegistry(manifests, () => false, rule);
        const backward = await deriveRegistry([...manifests].reverse(), () => false, rule);
        expect([...backward.canonical.keys()].sort()).toEqual([...forward.canonical.keys()].sort());
        expect(backward.dupOf).toEqual(forward.dupOf);
      }),
      { numRuns: 100 },
    );
  });

  it("links a near-copy to the indexed passage, and indexes everything when near-duplicate detection is off", async () => {
    const manifests = [manifest("a", [passage(1, 0)], []), manifest("b", [passage(1, 1)], [])];
    const linked = await deriveRegistry(manifests, (h) => h === "h1v0", rule);
    expect(linked.dupOf).toEqual(new Map([["h1v1", "h1v0"]]));
    const off = await deriveRegistry(manifests, () => false, { ...rule, nearDuplicates: false });
    expect([...off.canonical.keys()].sort()).toEqual(["h1v0", "h1v1"]);
    expect(off.dupOf.size).toBe(0);
  });

  it("wants restricts listing every document that holds a chunk or a near-copy of it, and the entry as the smallest such document has it", async () => {
    const manifests = [manifest("b", [passage(1, 0)], ["x"]), manifest("c", [passage(1, 1)], ["y"]), manifest("a", [passage(1, 0)], [])];
    const snapshot = await deriveRegistry(manifests, (h) => h === "h1v0", rule);
    const wanted = wantedMetadata(snapshot, new Map(manifests.map((m) => [m.documentId, m])), ["h1v0"]).get("h1v0");
    expect(wanted?.restricts).toEqual({ documentIds: ["a", "b", "c"], tags: ["x", "y"], contentTypes: ["text/markdown"] });
    expect(wanted?.record).toMatchObject({ documentId: "a", documentIds: ["a", "b", "c"], title: "a", text: passage(1, 0).text });
  });
});
