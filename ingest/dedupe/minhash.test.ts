import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { bandKeys, decodeSignature, encodeSignature, minhash, shingleHashes, similarity } from "./minhash.js";
import { fnv1a32 } from "../hash32.js";

const exactJaccard = (a: string, b: string) => {
  const x = new Set(shingleHashes(a, 3));
  const y = new Set(shingleHashes(b, 3));
  const inter = [...x].filter((v) => y.has(v)).length;
  return inter / (x.size + y.size - inter);
};

const words = "dock battery lidar wheel caster firmware zone map robot charge fleet sensor motor brake route shelf aisle pallet tote scan".split(" ");
const passage = fc.array(fc.constantFrom(...words), { minLength: 60, maxLength: 200 }).map((ws) => ws.join(" "));

describe("MinHash", () => {
  it("is deterministic and ignores case, spacing and Unicode compatibility forms", () => {
    const text = "Mount the CD-10 dock against a solid wall.";
    expect(Array.from(minhash(text))).toEqual(Array.from(minhash("  mount THE cd-10   dock against a ｓｏｌｉｄ wall ")));
  });

  it("estimates Jaccard similarity within a few points", () => {
    fc.assert(
      fc.property(passage, passage, fc.integer({ min: 0, max: 100 }), (a, b, cut) => {
        const mixed = `${a.split(" ").slice(0, cut).join(" ")} ${b}`;
        expect(Math.abs(similarity(minhash(a), minhash(mixed)) - exactJaccard(a, mixed))).toBeLessThan(0.2);
      }),
      { numRuns: 40 },
    );
  });

  it("finds a one-word edit similar above 0.85 and an unrelated passage below", () => {
    const randomWords = (seed: number) => {
      let state = seed;
      return Array.from({ length: 150 }, () => {
        state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
        return words[state % words.length];
      }).join(" ");
    };
    const base = `${randomWords(1)} unique ending words here`;
    const edited = base.replace("unique", "distinct");
    const unrelated = randomWords(2);
    expect(similarity(minhash(base), minhash(edited))).toBeGreaterThan(0.85);
    expect(similarity(minhash(base), minhash(unrelated))).toBeLessThan(0.5);
  });

  it("gives near-duplicates a shared LSH band and round-trips signatures through bytes", () => {
    const base = "the charging dock needs a dedicated sixteen amp circuit breaker and one metre of clear floor in front of it so the robot can approach straight";
    const a = minhash(base);
    const b = minhash(base.replace("sixteen", "twenty"));
    const shared = bandKeys(a, 16).filter((key) => bandKeys(b, 16).includes(key));
    expect(shared.length).toBeGreaterThan(0);
    expect(Array.from(decodeSignature(encodeSignature(a)))).toEqual(Array.from(a));
  });
});

describe("shingle hashes", () => {
  it("hash each shingle as the FNV-1a of its words joined by single spaces", () => {
    const words = fc.array(fc.stringMatching(/^[a-z0-9éß]{1,8}$/), { maxLength: 30 });
    fc.assert(
      fc.property(words, fc.integer({ min: 1, max: 5 }), (list, k) => {
        const text = list.join(" ");
        const expected = new Set<number>();
        const count = Math.max(1, list.length - k + 1);
        if (list.length > 0) for (let i = 0; i < count; i += 1) expected.add(fnv1a32(list.slice(i, i + k).join(" ")));
        expect([...shingleHashes(text, k)].sort()).toEqual([...expected].sort());
      }),
    );
  });
});
