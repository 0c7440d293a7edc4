import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { heirsOf, referencedOnlyBy, releaseOf } from "./release.js";

const DOCS = ["d", "e", "f"];
const HASHES = ["a", "b", "c", "x", "y", "z"];
/** Which documents reference each chunk (some chunks referenced by nobody). */
const refsArb = fc.dictionary(fc.constantFrom(...HASHES), fc.subarray(DOCS)).map((o) => new Map(Object.entries(o).map(([h, docs]) => [h, new Set(docs)])));

describe("referencedOnlyBy", () => {
  it("keeps the chunks only this document references, and those nobody references", () => {
    const refs = new Map([
      ["a", new Set(["d"])],
      ["b", new Set(["d", "e"])],
      ["c", new Set<string>()],
    ]);
    expect(referencedOnlyBy("d", ["a", "b", "c", "z"], refs)).toEqual(new Set(["a", "c", "z"]));
  });

  it("never lets go of a chunk another document references", () => {
    fc.assert(
      fc.property(fc.constantFrom(...DOCS), fc.subarray(HASHES), refsArb, (doc, hashes, refs) => {
        const leaving = referencedOnlyBy(doc, hashes, refs);
        for (const h of hashes) expect(leaving.has(h)).toBe([...(refs.get(h) ?? [])].every((other) => other === doc));
        for (const h of leaving) expect(hashes).toContain(h);
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("releaseOf", () => {
  it("unlinks a near-duplicate nobody references any more, and keeps one another document holds", () => {
    expect(releaseOf("d", new Set(["d"]), "c")).toEqual({ kind: "near-duplicate", canonical: "c", unlink: true });
    expect(releaseOf("d", new Set(["d", "e"]), "c")).toEqual({ kind: "near-duplicate", canonical: "c", unlink: false });
  });

  it("removes an indexed chunk only when its last reference goes", () => {
    expect(releaseOf("d", new Set(["d"]), undefined)).toEqual({ kind: "last" });
    expect(releaseOf("d", new Set(), undefined)).toEqual({ kind: "last" });
    expect(releaseOf("d", new Set(["d", "e"]), undefined)).toEqual({ kind: "shared" });
  });

  it("never releases (nor unlinks) a chunk referenced by any other document", () => {
    fc.assert(
      fc.property(fc.constantFrom(...DOCS), fc.subarray(DOCS), fc.option(fc.constantFrom(...HASHES), { nil: undefined }), (doc, refs, canonical) => {
        const release = releaseOf(doc, new Set(refs), canonical);
        const others = refs.some((other) => other !== doc);
        if (others) {
          expect(release.kind).not.toBe("last");
          if (release.kind === "near-duplicate") expect(release.unlink).toBe(false);
        }
        if (canonical === undefined) expect(release.kind).toBe(others ? "shared" : "last");
        else expect(release).toEqual({ kind: "near-duplicate", canonical, unlink: !others });
      }),
      { numRuns: 1_000 },
    );
  });
});

describe("heirsOf", () => {
  it("places the near-duplicates by hash, and only unlinks those nobody references", () => {
    const refs = new Map([
      ["y", new Set(["e"])],
      ["x", new Set<string>()],
      ["z", new Set(["d", "f"])],
    ]);
    expect(heirsOf(["z", "x", "y"], refs)).toEqual([
      { hash: "x", referenced: false },
      { hash: "y", referenced: true },
      { hash: "z", referenced: true },
    ]);
  });

  it("chooses the same heirs in the same order whatever order the registry lists them in", () => {
    const dupsArb = fc.uniqueArray(fc.constantFrom(...HASHES));
    fc.assert(
      fc.property(
        dupsArb.chain((dups) => fc.tuple(fc.constant(dups), fc.shuffledSubarray(dups, { minLength: dups.length }))),
        refsArb,
        ([dups, shuffled], refs) => {
          const reordered = new Map([...refs].reverse());
          const heirs = heirsOf(dups, refs);
          expect(heirsOf(shuffled, reordered)).toEqual(heirs);
          expect(heirs.map((h) => h.hash)).toEqual([...dups].sort());
          for (const heir of heirs) expect(heir.referenced).toBe((refs.get(heir.hash)?.size ?? 0) > 0);
        },
      ),
      { numRuns: 1_000 },
    );
  });
});
