import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bandKeys, similarity } from "../../ingest/dedupe/minhash.js";
import { bestNearDuplicate, nearDuplicateMatcher, standingOf, type MatchRule, type NearDuplicateBatch } from "./classify.js";

/** The matches of a whole batch, its items matched in order as classify() does: chunk hash → the chunk it duplicates. */
function matchNearDuplicates(batch: NearDuplicateBatch, rule: MatchRule): Map<string, string> {
  const match = nearDuplicateMatcher(batch, rule);
  const matches = new Map<string, string>();
  batch.items.forEach((item, i) => {
    const found = match(i);
    if (found) matches.set(item.hash, found);
  });
  return matches;
}

const HASHES = ["a", "b", "c", "d", "e", "f", "g", "h"];
const BANDS = 2;
/** Short signatures over a tiny alphabet, so near-duplicates (and ties) are common. */
const signature = fc.array(fc.integer({ min: 0, max: 2 }), { minLength: 8, maxLength: 8 }).map((a) => Uint32Array.from(a));
const threshold = fc.constantFrom(0.5, 0.625, 0.75, 1);
const sig = (...values: number[]) => Uint32Array.from(values);

/** A pool of chunks with signatures, split into indexed ones and a batch about to be indexed. */
const world = fc
  .uniqueArray(fc.constantFrom(...HASHES), { minLength: 1, maxLength: HASHES.length })
  .chain((hashes) =>
    fc.record({
      signatures: fc.tuple(...hashes.map(() => signature)).map((sigs) => new Map(hashes.map((h, i) => [h, sigs[i] as Uint32Array]))),
      batch: fc.subarray(hashes, { minLength: 1 }),
      indexed: fc.subarray(hashes),
      exclude: fc.subarray(hashes).map((x) => new Set(x)),
      threshold,
    }),
  )
  .map(({ signatures, batch, indexed, exclude, threshold }) => {
    const items = batch.map((hash) => ({ hash, signature: signatures.get(hash) as Uint32Array }));
    const bandLists = items.map((item) => bandKeys(item.signature, BANDS));
    // Candidates as the registry finds them: indexed chunks sharing a band (itself included, when indexed).
    const candidateSets = bandLists.map((bands) => indexed.filter((h) => bandKeys(signatures.get(h) as Uint32Array, BANDS).some((b) => bands.includes(b))));
    const indexedSignatures = new Map(indexed.map((h) => [h, signatures.get(h) as Uint32Array]));
    const input: NearDuplicateBatch = { items, bandLists, candidateSets, signatures: indexedSignatures };
    return { input, rule: { threshold, exclude }, indexed: new Set(indexed), signatures };
  });

describe("bestNearDuplicate", () => {
  it("picks the most similar candidate at or above the threshold, ties to the smallest hash", () => {
    const item = { hash: "x", signature: sig(1, 1, 1, 1) };
    const signatures = new Map([
      ["c", sig(1, 1, 1, 0)],
      ["b", sig(1, 1, 1, 0)],
      ["a", sig(1, 1, 0, 0)],
      ["d", sig(0, 0, 0, 0)],
    ]);
    expect(bestNearDuplicate(item, ["a", "c", "b", "d"], signatures, { threshold: 0.5, exclude: new Set() })).toBe("b");
    expect(bestNearDuplicate(item, ["a", "d"], signatures, { threshold: 0.75, exclude: new Set() })).toBeUndefined();
  });

  it("never matches a chunk with itself or with an excluded chunk, and ignores the order candidates come in", () => {
    fc.assert(
      fc.property(world.chain((w) => fc.tuple(fc.constant(w), fc.shuffledSubarray([...w.signatures.keys()], { minLength: w.signatures.size }))), ([{ signatures, rule }, shuffled]) => {
        const all = [...signatures.keys()];
        for (const hash of all) {
          const item = { hash, signature: signatures.get(hash) as Uint32Array };
          const match = bestNearDuplicate(item, all, signatures, rule);
          expect(bestNearDuplicate(item, shuffled, signatures, rule)).toBe(match);
          if (match === undefined) continue;
          expect(match).not.toBe(hash);
          expect(rule.exclude.has(match)).toBe(false);
          expect(similarity(item.signature, signatures.get(match) as Uint32Array)).toBeGreaterThanOrEqual(rule.threshold);
        }
      }),
      { numRuns: 500 },
    );
  });
});

describe("nearDuplicateMatcher", () => {
  it("indexes two near-identical passages of one batch once: the later matches the earlier", () => {
    const items = [
      { hash: "p", signature: sig(1, 2, 3, 4) },
      { hash: "q", signature: sig(1, 2, 3, 4) },
    ];
    const batch = { items, bandLists: items.map((i) => bandKeys(i.signature, BANDS)), candidateSets: [[], []], signatures: new Map() };
    expect(matchNearDuplicates(batch, { threshold: 0.8, exclude: new Set() })).toEqual(new Map([["q", "p"]]));
  });

  it("prefers an indexed chunk over an earlier chunk of the batch", () => {
    const items = [
      { hash: "p", signature: sig(1, 2, 3, 4) },
      { hash: "q", signature: sig(1, 2, 3, 4) },
    ];
    const batch = { items, bandLists: items.map((i) => bandKeys(i.signature, BANDS)), candidateSets: [[], ["z"]], signatures: new Map([["z", sig(1, 2, 3, 0)]]) };
    expect(matchNearDuplicates(batch, { threshold: 0.75, exclude: new Set() })).toEqual(new Map([["q", "z"]]));
  });

  it("never makes a chunk a near-duplicate of itself, of an excluded chunk, or of a chunk that is not indexed", () => {
    fc.assert(
      fc.property(world, ({ input, rule, indexed }) => {
        const matches = matchNearDuplicates(input, rule);
        const batchOrder = input.items.map((i) => i.hash);
        for (const [hash, match] of matches) {
          expect(match).not.toBe(hash);
          expect(rule.exclude.has(match)).toBe(false);
          // Either an indexed chunk, or an earlier chunk of the batch that is itself indexed (no chains).
          if (!indexed.has(match)) {
            expect(batchOrder.indexOf(match)).toBeLessThan(batchOrder.indexOf(hash));
            expect(matches.has(match)).toBe(false);
          }
        }
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("standingOf", () => {
  it("keeps an indexed chunk canonical and asks to drop a near-duplicate link an interrupted promotion left", () => {
    const view = { dupOf: new Map([["a", "b"]]), canonical: new Set(["a", "b"]), leaving: new Set<string>() };
    expect(standingOf("a", view)).toEqual({ kind: "canonical", relink: true });
    expect(standingOf("b", view)).toEqual({ kind: "canonical", relink: false });
  });

  it("keeps a near-duplicate only of an indexed chunk that stays", () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...HASHES),
        fc.dictionary(fc.constantFrom(...HASHES), fc.constantFrom(...HASHES)),
        fc.subarray(HASHES),
        fc.subarray(HASHES),
        (hash, links, canonical, leaving) => {
          const view = { dupOf: new Map(Object.entries(links)), canonical: new Set(canonical), leaving: new Set(leaving) };
          const standing = standingOf(hash, view);
          if (standing.kind === "near-duplicate") {
            expect(view.canonical.has(standing.of)).toBe(true);
            expect(view.leaving.has(standing.of)).toBe(false);
            expect(view.canonical.has(hash)).toBe(false);
          }
          expect(standing.kind === "canonical").toBe(view.canonical.has(hash));
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
