import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { diffChunks } from "./diff.js";
import { lackingVectors } from "./embed-ahead.js";
import { diffCounts } from "./sync-document.js";

describe("diffCounts", () => {
  it("counts every chunk of the new state once, as unchanged or added, and the dropped ones as removed", () => {
    fc.assert(
      fc.property(fc.uniqueArray(fc.constantFrom("a", "b", "c", "d", "e")), fc.uniqueArray(fc.constantFrom("a", "b", "c", "d", "e")), (previous, next) => {
        const counts = diffCounts(diffChunks(new Set(previous), next));
        expect(counts.chunks).toBe(next.length);
        expect(counts.unchanged + counts.added).toBe(next.length);
        expect(counts.unchanged).toBe(next.filter((h) => previous.includes(h)).length);
        expect(counts.removed).toBe(previous.filter((h) => !next.includes(h)).length);
      }),
    );
  });
});

describe("lackingVectors", () => {
  it("embeds ahead the added chunks some target lacks, but no known near-duplicate", () => {
    const held = [new Map([["a", { restricts: { documentIds: [], tags: [], contentTypes: [] }, numericRestricts: {} }]]), new Map()];
    expect(lackingVectors(["a", "b", "c"], new Map([["c", "z"]]), held)).toEqual(["a", "b"]);
    expect(lackingVectors(["a"], new Map(), [held[0] as Map<string, never>])).toEqual([]);
  });
});
