import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { evaluateRun } from "./metrics.js";
import { chunkRanking, documentRanking, rankingFor, type ChunkHit } from "./rankings.js";
import { formatRun, parseRun } from "./trec.js";

const hit = (chunkId: string, score: number, ...documentIds: string[]): ChunkHit => ({ chunkId, score, documentIds });

describe("documentRanking", () => {
  it("ranks each document once, where its first chunk ranks, with that chunk's score", () => {
    const hits = [hit("c1", 0.9, "A"), hit("c2", 0.8, "B"), hit("c3", 0.7, "A"), hit("c4", 0.6, "C")];
    expect(documentRanking(hits)).toEqual([
      { docno: "A", score: 0.9 },
      { docno: "B", score: 0.8 },
      { docno: "C", score: 0.6 },
    ]);
  });

  it("uses scores, not the order the hits arrive in", () => {
    expect(documentRanking([hit("c3", 0.7, "A"), hit("c2", 0.8, "B"), hit("c1", 0.9, "A")]).map((d) => d.docno)).toEqual(["A", "B"]);
  });

  it("breaks equal document scores as trec_eval would: docno descending by bytes", () => {
    // Chunk order would put A first (chunk "z" > "a"), but trec_eval orders the document run by docno: B before A.
    expect(documentRanking([hit("z", 0.5, "A"), hit("a", 0.5, "B")]).map((d) => d.docno)).toEqual(["B", "A"]);
  });

  it("credits every document a deduplicated chunk belongs to", () => {
    expect(documentRanking([hit("c1", 0.9, "A", "B"), hit("c2", 0.8, "B")])).toEqual([
      { docno: "B", score: 0.9 },
      { docno: "A", score: 0.9 },
    ]);
  });

  it("scores the same in-process as trec_eval would on the run file it writes", () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ chunkId: fc.stringMatching(/^c[0-9]{1,2}$/), score: fc.integer({ min: 0, max: 4 }).map((s) => s / 4), documentIds: fc.uniqueArray(fc.constantFrom("A", "B", "C", "D"), { minLength: 1, maxLength: 2 }) }), { maxLength: 20 }),
        fc.uniqueArray(fc.constantFrom("A", "B", "C", "D", "E"), { minLength: 1 }),
        (hits, relevant) => {
          const ranking = documentRanking(hits);
          const qrels = new Map([["q", new Map(relevant.map((d) => [d, 1]))]]);
          const options = { completeQueries: true, cutoffs: [1, 2, 3, 10] };
          const direct = evaluateRun(qrels, new Map([["q", ranking]]), options);
          const viaFile = evaluateRun(qrels, parseRun(formatRun(new Map([["q", ranking]]), "ragops")).queries, options);
          expect(viaFile).toEqual(direct);
          expect(new Set(ranking.map((d) => d.docno)).size).toBe(ranking.length);
        },
      ),
    );
  });
});

describe("chunkRanking", () => {
  it("ranks chunks by score, ties by chunk id descending, each chunk once", () => {
    expect(chunkRanking([hit("a", 0.5, "A"), hit("b", 0.5, "A"), hit("c", 0.9, "B"), hit("a", 0.2, "A")])).toEqual([
      { docno: "c", score: 0.9 },
      { docno: "b", score: 0.5 },
      { docno: "a", score: 0.5 },
    ]);
  });
});

describe("rankingFor", () => {
  it("scores document-judged sets on documents and chunk-judged sets on chunks", () => {
    const hits = [hit("c1", 0.9, "A"), hit("c2", 0.8, "A")];
    expect(rankingFor("document", hits).map((d) => d.docno)).toEqual(["A"]);
    expect(rankingFor("chunk", hits).map((d) => d.docno)).toEqual(["c1", "c2"]);
  });
});
