import { describe, expect, it } from "vitest";
import { retrievalLabel, versionConfigFrom } from "./index-commands.js";
import { InvalidArgumentError } from "commander";
import { finiteNumber } from "./common.js";
import { searchRequestFrom } from "./search-command.js";

describe("ragops search request", () => {
  it("has no filter and no index unless the options ask for them", () => {
    expect(searchRequestFrom("dock", { tag: [], document: [] })).toEqual({ query: "dock", k: undefined, filter: undefined });
  });

  it("filters by tags and documents when given, and names the index", () => {
    expect(searchRequestFrom("dock", { topK: 3, tag: ["hr"], document: ["a", "b"], index: "v2" })).toEqual({ query: "dock", k: 3, filter: { tags: ["hr"], documentId: ["a", "b"] }, index: "v2" });
    expect(searchRequestFrom("dock", { tag: [], document: ["a"] }).filter).toEqual({ documentId: ["a"] });
  });

  it("asks for one chunk per document with --group document, and drops weak hits with --min-score", () => {
    expect(searchRequestFrom("dock", { tag: [], document: [], group: "document", minScore: 0.25 })).toEqual({ query: "dock", k: undefined, filter: undefined, group: "document", minScore: 0.25 });
    expect(finiteNumber("-0.5")).toBe(-0.5);
    expect(() => finiteNumber("high")).toThrow(InvalidArgumentError);
    expect(() => finiteNumber("")).toThrow(InvalidArgumentError);
  });

  it("asks for a retrieval mode when --mode names one", () => {
    expect(searchRequestFrom("dock", { tag: [], document: [], mode: "text" })).toEqual({ query: "dock", k: undefined, filter: undefined, mode: "text" });
    expect(searchRequestFrom("dock", { tag: [], document: [], fusion: "rrf" })).toEqual({ query: "dock", k: undefined, filter: undefined, fusion: "rrf" });
  });
});

describe("ragops index create config", () => {
  it("lays --chunk-size and --dimensions over the file's chunking and embedder, keeping the file's other fields", () => {
    const file = JSON.stringify({ chunking: { sizeTokens: 512, overlapTokens: 64 }, embedder: { dimensions: 384 }, defaultTopK: 8 });
    expect(versionConfigFrom({ chunkSize: 768, dimensions: 256 }, file)).toEqual({ chunking: { sizeTokens: 768, overlapTokens: 64 }, embedder: { dimensions: 256 }, defaultTopK: 8 });
  });

  it("lays --retrieval over the file's retrieval mode, keeping its other retrieval settings", () => {
    expect(versionConfigFrom({ retrieval: "dense" }, JSON.stringify({ retrieval: { mode: "hybrid", rrf: { k: 10 } } }))).toEqual({ retrieval: { mode: "dense", rrf: { k: 10 } } });
  });

  it("lays --fusion over the file's fusion, keeping its mode and other retrieval settings", () => {
    expect(versionConfigFrom({ fusion: "rrf" }, JSON.stringify({ retrieval: { mode: "hybrid", rrf: { k: 10 } } }))).toEqual({ retrieval: { mode: "hybrid", rrf: { k: 10 }, fusion: "rrf" } });
    expect(versionConfigFrom({ retrieval: "hybrid", fusion: "relative-score" })).toEqual({ retrieval: { mode: "hybrid", fusion: "relative-score" } });
  });

  it("lists a hybrid version's retrieval with its fusion", () => {
    expect(retrievalLabel({ mode: "hybrid", fusion: "rrf" })).toBe("hybrid (rrf)");
    expect(retrievalLabel({ mode: "dense", fusion: "rrf" })).toBe("dense");
  });

  it("is empty (the built-in defaults) without a file or options", () => {
    expect(versionConfigFrom({})).toEqual({});
  });
});
