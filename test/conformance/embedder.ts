import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { Embedder, EmbedPurpose } from "../../indexer/embedders/embedder.js";

/** How one adapter is held to the contract. */
export interface EmbedderConformanceOptions {
  /** The dimensions the adapter was made with. */
  dimensions: number;
  /**
   * Largest cosine distance allowed between two embeddings of one text (0: bit-exact).
   * @defaultValue 1e-6 (float noise)
   */
  tolerance?: number;
  /**
   * Runs of each property test; each makes a few embed calls, so a remote adapter may want fewer.
   * @defaultValue 25
   */
  runs?: number;
}

const cosine = (a: Float32Array, b: Float32Array): number => {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i += 1) {
    const x = a[i] as number;
    const y = b[i] as number;
    dot += x * y;
    na += x * x;
    nb += y * y;
  }
  return dot / Math.sqrt(na * nb);
};

const PURPOSES: readonly EmbedPurpose[] = ["document", "query"];

/** Texts as chunks and queries come: non-blank, any script. */
const text = fc.oneof(fc.string({ minLength: 1, maxLength: 200 }), fc.lorem({ maxCount: 30 })).filter((t) => t.trim().length > 0);

/** The behaviour every Embedder adapter must have (see the port, indexer/embedders/embedder.ts); run once per adapter. */
export function embedderConformance(name: string, open: () => Promise<Embedder>, options: EmbedderConformanceOptions): void {
  const tolerance = options.tolerance ?? 1e-6;
  const runs = options.runs ?? 25;

  /** A well-formed vector of the declared size. */
  const expectVector = (vector: Float32Array | undefined) => {
    expect(vector).toBeInstanceOf(Float32Array);
    expect(vector).toHaveLength(options.dimensions);
    expect((vector as Float32Array).every(Number.isFinite), "every component finite").toBe(true);
    expect((vector as Float32Array).some((x) => x !== 0), "not the zero vector").toBe(true);
  };
  /** The same vector, up to the adapter's tolerance. */
  const expectSame = (actual: Float32Array | undefined, expected: Float32Array | undefined, what: string) => {
    expectVector(actual);
    if (tolerance === 0) expect(Array.from(actual as Float32Array), what).toEqual(Array.from(expected as Float32Array));
    else expect(1 - cosine(actual as Float32Array, expected as Float32Array), what).toBeLessThanOrEqual(tolerance);
  };

  describe(`Embedder conformance: ${name}`, () => {
    it("has a stable identity whose dimensions are the ones it was made with", async () => {
      const embedder = await open();
      const before = structuredClone(embedder.identity);
      for (const field of ["provider", "model", "version"] as const) expect(embedder.identity[field], field).toMatch(/\S/);
      expect(embedder.identity.dimensions).toBe(options.dimensions);
      await embedder.embed(["identity check"], { purpose: "document" });
      await embedder.embed(["identity check"], { purpose: "query" });
      expect(embedder.identity).toEqual(before);
      expect((await open()).identity, "another instance made the same way").toEqual(before);
    });

    it("returns one vector of the declared dimensions per text, for either purpose", async () => {
      const embedder = await open();
      for (const purpose of PURPOSES) {
        const vectors = await embedder.embed(["charging dock", "How do I replace the battery pack?", "Ünïcödé — 日本語のテキスト"], { purpose });
        expect(vectors, purpose).toHaveLength(3);
        for (const vector of vectors) expectVector(vector);
      }
    });

    it("answers an empty batch with no vectors", async () => {
      const embedder = await open();
      for (const purpose of PURPOSES) expect(await embedder.embed([], { purpose })).toEqual([]);
    });

    it("gives a text the same vector every time, from any instance made the same way", async () => {
      const [first, second] = await Promise.all([open(), open()]);
      await fc.assert(
        fc.asyncProperty(text, fc.constantFrom(...PURPOSES), async (t, purpose) => {
          const [a] = await (first as Embedder).embed([t], { purpose });
          const [b] = await (first as Embedder).embed([t], { purpose });
          const [c] = await (second as Embedder).embed([t], { purpose });
          expectSame(b, a, "same instance, second call");
          expectSame(c, a, "another instance");
        }),
        { numRuns: runs },
      );
    });

    it("keeps batch order, and a text's vector does not depend on its batch-mates", async () => {
      const embedder = await open();
      await fc.assert(
        fc.asyncProperty(fc.array(text, { minLength: 1, maxLength: 8 }), fc.constantFrom(...PURPOSES), async (texts, purpose) => {
          const batch = await embedder.embed(texts, { purpose });
          expect(batch).toHaveLength(texts.length);
          const alone = await Promise.all(texts.map(async (t) => (await embedder.embed([t], { purpose }))[0]));
          const reversed = (await embedder.embed([...texts].reverse(), { purpose })).reverse();
          texts.forEach((_, i) => {
            expectSame(batch[i], alone[i], `text ${i} in a batch vs alone`);
            expectSame(reversed[i], alone[i], `text ${i} in a reversed batch`);
          });
        }),
        { numRuns: runs },
      );
    });

    it("takes a batch larger than providers take per request, in order", async () => {
      const embedder = await open();
      const texts = Array.from({ length: 300 }, (_, i) => `document ${i} about topic ${i % 17} and part ${Math.floor(i / 17)}`);
      const batch = await embedder.embed(texts, { purpose: "document" });
      expect(batch).toHaveLength(texts.length);
      for (const i of [0, 1, 149, 250, 299]) expectSame(batch[i], (await embedder.embed([texts[i] as string], { purpose: "document" }))[0], `text ${i}`);
    });

    it("embeds a text far longer than any model's input limit instead of refusing it", async () => {
      const embedder = await open();
      const long = "The charging dock aligns the robot before it docks. ".repeat(20_000); // ~1 MB, ~200k tokens
      for (const purpose of PURPOSES) {
        const vectors = await embedder.embed(["short text", long, "another short text"], { purpose });
        expect(vectors).toHaveLength(3);
        for (const vector of vectors) expectVector(vector);
        expectSame(vectors[0], (await embedder.embed(["short text"], { purpose }))[0], "a short text beside a long one");
      }
    });

    it("puts a query nearer a document that answers it than an unrelated one", async () => {
      const embedder = await open();
      const [query] = await embedder.embed(["how do I replace the battery pack"], { purpose: "query" });
      const [answer, unrelated] = await embedder.embed(
        ["To replace the battery pack, power down the robot, open the rear cover and slide the old pack out.", "Hotel costs are reimbursed up to the city limit with a receipt."],
        { purpose: "document" },
      );
      expect(cosine(query as Float32Array, answer as Float32Array)).toBeGreaterThan(cosine(query as Float32Array, unrelated as Float32Array));
    });

    it("gives concurrent calls the answers they would get alone", async () => {
      const embedder = await open();
      const batches = Array.from({ length: 12 }, (_, b) => Array.from({ length: 1 + (b % 5) }, (_, i) => `concurrent text ${b}-${i} ${"word ".repeat(b)}`));
      const purposeOf = (b: number): EmbedPurpose => (b % 2 ? "query" : "document");
      const sequential: Float32Array[][] = [];
      for (const [b, texts] of batches.entries()) sequential.push(await embedder.embed(texts, { purpose: purposeOf(b) }));
      const concurrent = await Promise.all(batches.map((texts, b) => embedder.embed(texts, { purpose: purposeOf(b) })));
      concurrent.forEach((vectors, b) => {
        expect(vectors).toHaveLength(batches[b]?.length ?? -1);
        vectors.forEach((vector, i) => expectSame(vector, sequential[b]?.[i], `batch ${b}, text ${i}`));
      });
    });
  });
}
