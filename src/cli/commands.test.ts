import { describe, expect, it } from "vitest";
import type { JobOutcome } from "../documents/ingest-files.js";
import { versionConfigFrom } from "./index-commands.js";
import { ingestReport } from "./ingest-command.js";
import { searchRequestFrom } from "./search-command.js";

describe("ragops ingest report", () => {
  const submitted = [
    { documentId: "a", version: 1, jobId: "j-a" },
    { documentId: "b", version: 2, jobId: "j-b" },
    { documentId: "c", version: 1, jobId: "j-c" },
  ];
  const outcomes = new Map<string, JobOutcome>([
    ["j-a", { jobId: "j-a", state: "completed", result: { chunks: 4, outcome: "indexed" } }],
    ["j-b", { jobId: "j-b", state: "failed", failedReason: "not a PDF" }],
  ]);

  it("has a row per document with its chunks or failure, then a row per rejected file", () => {
    const report = ingestReport(submitted, [{ path: "big.pdf", reason: "too large" }], outcomes);
    expect(report.rows).toEqual([
      ["a", "1", "completed", "4 (indexed)"],
      ["b", "2", "failed", "not a PDF"],
      ["c", "1", "?", ""],
      ["big.pdf", "-", "rejected", "too large"],
    ]);
  });

  it("counts completed documents as indexed, and everything else, rejected files included, as failed", () => {
    expect(ingestReport(submitted, [{ path: "big.pdf", reason: "too large" }], outcomes)).toMatchObject({ indexed: 1, failed: 3 });
    expect(ingestReport([], [], new Map())).toMatchObject({ indexed: 0, failed: 0 });
  });
});

describe("ragops search request", () => {
  it("has no filter and no index unless the options ask for them", () => {
    expect(searchRequestFrom("dock", { tag: [], document: [] })).toEqual({ query: "dock", k: undefined, filter: undefined });
  });

  it("filters by tags and documents when given, and names the index", () => {
    expect(searchRequestFrom("dock", { topK: 3, tag: ["hr"], document: ["a", "b"], index: "v2" })).toEqual({ query: "dock", k: 3, filter: { tags: ["hr"], documentId: ["a", "b"] }, index: "v2" });
    expect(searchRequestFrom("dock", { tag: [], document: ["a"] }).filter).toEqual({ documentId: ["a"] });
  });
});

describe("ragops index create config", () => {
  it("lays --chunk-size and --dimensions over the file's chunking and embedder, keeping the file's other fields", () => {
    const file = JSON.stringify({ chunking: { sizeTokens: 512, overlapTokens: 64 }, embedder: { dimensions: 384 }, defaultTopK: 8 });
    expect(versionConfigFrom({ chunkSize: 768, dimensions: 256 }, file)).toEqual({ chunking: { sizeTokens: 768, overlapTokens: 64 }, embedder: { dimensions: 256 }, defaultTopK: 8 });
  });

  it("is empty (the built-in defaults) without a file or options", () => {
    expect(versionConfigFrom({})).toEqual({});
  });
});
