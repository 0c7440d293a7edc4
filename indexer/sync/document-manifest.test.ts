import { describe, expect, it } from "vitest";
import { configSchema } from "../../config/schema.js";
import type { ParsePool, PrepareRequest } from "../../ingest/parsers/isolated.js";
import type { Chunk } from "../../ingest/types.js";
import { manifestsOf } from "./document-manifest.js";

const chunk = (text: string, ordinal: number): Chunk => ({
  documentId: "doc",
  version: 3,
  ordinal,
  text,
  tokenCount: 2,
  charStart: 0,
  charEnd: text.length,
  headingPath: [],
  sectionIndex: 0,
  title: "Declared title",
  source: "guide.docx",
  contentType: "application/pdf",
  tags: ["ops", "declared"],
  hash: `h-${text}`,
});

/** A pool that records what it was asked and answers one chunk list per chunking config. */
function recordingPool(answer: (request: PrepareRequest) => Chunk[][]): { pool: ParsePool; requests: PrepareRequest[] } {
  const requests: PrepareRequest[] = [];
  const pool: ParsePool = {
    prepare: async (_bytes, request) => {
      requests.push(request);
      return { kind: "pdf", contentType: "application/pdf", chunks: answer(request) };
    },
    close: async () => undefined,
  };
  return { pool, requests };
}

const doc = {
  documentId: "doc",
  version: 3,
  rawKey: "raw/doc-3",
  filename: "guide.docx",
  contentType: "application/octet-stream",
  metadata: { source: "guide.docx", tags: ["ops"] },
  fingerprint: { size: 4, sha256: "abc" },
};

describe("manifestsOf, the one way stored bytes become manifests (jobs and builds)", () => {
  it("asks the parse pool once, with the configured zip limits and every profile's chunking config", async () => {
    const ingest = configSchema.parse({ ingest: { zipMaxEntries: 7, zipMaxUncompressedBytes: 4096 } }).ingest;
    const { pool, requests } = recordingPool((request) => request.chunking.map((c) => [chunk(`size ${c.sizeTokens}`, 0)]));
    const small = { sizeTokens: 256, overlapRatio: 0.1, minSectionTokens: 0 };
    const large = { sizeTokens: 1024, overlapRatio: 0.2, minSectionTokens: 64 };
    const manifests = await manifestsOf(pool, ingest, doc, Buffer.from("PK.."), [
      { profile: "pa", chunking: small },
      { profile: "pb", chunking: large },
    ]);
    expect(requests).toEqual([
      expect.objectContaining({ filename: "guide.docx", contentType: "application/octet-stream", zipLimits: { maxEntries: 7, maxUncompressedBytes: 4096 }, chunking: [small, large], meta: expect.objectContaining({ documentId: "doc", version: 3, source: "guide.docx" }) }),
    ]);
    expect(manifests.map((m) => [m.profile, m.chunks.map((c) => c.text)])).toEqual([
      ["pa", ["size 256"]],
      ["pb", ["size 1024"]],
    ]);
    expect(manifests[0]).toMatchObject({ documentId: "doc", version: 3, rawKey: "raw/doc-3", title: "Declared title", contentType: "application/pdf", tags: ["ops", "declared"], fingerprint: doc.fingerprint });
  });

  it("refuses a document without text for any profile, and asks nothing when no profile needs it", async () => {
    const ingest = configSchema.parse({}).ingest;
    const { pool, requests } = recordingPool((request) => request.chunking.map(() => []));
    await expect(manifestsOf(pool, ingest, doc, Buffer.from("x"), [{ profile: "pa", chunking: configSchema.parse({}).chunking }])).rejects.toMatchObject({ code: "unprocessable_document", message: "the document has no text to index" });
    expect(await manifestsOf(pool, ingest, doc, Buffer.from("x"), [])).toEqual([]);
    expect(requests).toHaveLength(1);
  });
});
