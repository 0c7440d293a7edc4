import { describe, expect, it } from "vitest";
import { embedderConformance } from "../../test/conformance/embedder.js";
import { createOfflineHashingEmbedder, embedText } from "./offline-hashing.js";

// Bit-exact: pure arithmetic on the text, no model.
embedderConformance("offline hashing, 384 dimensions", async () => createOfflineHashingEmbedder({ dimensions: 384 }), { dimensions: 384, tolerance: 0 });
embedderConformance("offline hashing, 16 dimensions", async () => createOfflineHashingEmbedder({ dimensions: 16 }), { dimensions: 16, tolerance: 0 });

const cosine = (a: Float32Array, b: Float32Array) => a.reduce((sum, x, i) => sum + x * (b[i] ?? 0), 0);

describe("offline hashing embedder", () => {
  it("returns one unit-length vector of the configured size per text, empty text included", async () => {
    const embedder = createOfflineHashingEmbedder({ dimensions: 384 });
    const vectors = await embedder.embed(["charging dock", "", "the of and"], { purpose: "document" });
    expect(vectors).toHaveLength(3);
    for (const v of vectors) {
      expect(v).toHaveLength(384);
      expect(Math.sqrt(cosine(v, v))).toBeCloseTo(1, 5);
    }
    expect(embedder.identity).toEqual({ provider: "offline", model: "hashing-unigram-bigram", version: "1", dimensions: 384 });
  });

  it("is deterministic across calls", () => {
    expect(Array.from(embedText("Replace the BP-48 battery pack", 256))).toEqual(Array.from(embedText("Replace the BP-48 battery pack", 256)));
  });

  it("puts texts that share words closer than texts that do not", () => {
    const query = embedText("how do I replace the battery pack", 384);
    const related = embedText("To replace the battery pack, power down the robot and remove the pack.", 384);
    const unrelated = embedText("Hotel costs are reimbursed up to the city limit with a receipt.", 384);
    expect(cosine(query, related)).toBeGreaterThan(cosine(query, unrelated) + 0.2);
  });

  it("ignores case and Unicode compatibility forms", () => {
    expect(cosine(embedText("Ｃｈａｒｇｉｎｇ DOCK", 384), embedText("charging dock", 384))).toBeCloseTo(1, 5);
  });
});
