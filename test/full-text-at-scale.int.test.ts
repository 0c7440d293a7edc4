import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { corpusDatapoints } from "../bench/corpus-datapoints.js";
import { mulberry32 } from "../bench/corpus.mjs";
import { countTerms } from "../indexer/sparse/analyze.js";
import { queryVector } from "../indexer/sparse/bm25.js";
import { createLanceDbIndex, ensureLanceCpuThreads, FULL_TEXT_RECALL_SAMPLES, recallAt10 } from "../indexer/indexes/lancedb.js";

/** The size at which a full-text build over the shared corpus once never returned (a one-thread LanceDB pool). */
const ROWS = 50_000;

describe("LanceDB full-text index past the snapshot limit", () => {
  it("keeps two or more LanceDB CPU threads unless the operator set them: one deadlocks a full-text build", () => {
    const env: NodeJS.ProcessEnv = {};
    ensureLanceCpuThreads(env, 2);
    expect(env.LANCE_CPU_THREADS).toBe("2");
    ensureLanceCpuThreads((env.LANCE_CPU_THREADS = "", env), 1);
    expect(env.LANCE_CPU_THREADS).toBe("2");
    const many: NodeJS.ProcessEnv = {};
    ensureLanceCpuThreads(many, 16);
    expect(many.LANCE_CPU_THREADS).toBe("14");
    const chosen: NodeJS.ProcessEnv = { LANCE_CPU_THREADS: "1" };
    ensureLanceCpuThreads(chosen, 2);
    expect(chosen.LANCE_CPU_THREADS).toBe("1");
  });

  it("builds over 50,000 corpus chunks on this machine, measures its recall, and answers text questions as the exact scan does", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ragops-fts-"));
    const { texts, points } = corpusDatapoints(ROWS);
    const index = await createLanceDbIndex({ dir, version: "v1", dimensions: 2, memoryScanMaxRows: 1_000, annMinRows: 0, fullTextMinRows: ROWS });
    const exact = await createLanceDbIndex({ dir, version: "v1", dimensions: 2, memoryScanMaxRows: 0, fullTextMinRows: 0 });
    for (let i = 0; i < points.length; i += 5_000) await index.upsert(points.slice(i, i + 5_000));
    await index.maintain();
    await index.indexesSettled();

    const state = (await index.describe()).fullText;
    expect(state.lastError).toBeUndefined();
    expect(state).toMatchObject({ state: "ready", type: "FTS", indexedRows: ROWS, unindexedRows: 0 });
    expect(state.recall?.queries).toBe(FULL_TEXT_RECALL_SAMPLES);
    expect(state.recall?.at10).toBeGreaterThanOrEqual(0.95);

    // Five-word spans of the corpus, as bench:eval asks them, with the table's own statistics.
    const random = mulberry32(11);
    let recall = 0;
    const questions = 20;
    for (let q = 0; q < questions; q++) {
      const words = (texts[Math.floor(random() * texts.length)] as string).split(/\s+/);
      const at = Math.floor(random() * (words.length - 5));
      const terms = countTerms(words.slice(at, at + 5).join(" "));
      const sparse = queryVector(terms, await exact.termStats(Array.from(terms.ids)));
      const filter = q % 2 === 0 ? { restricts: { tags: { allow: ["even"] } } } : undefined;
      const options = { k: 10, sparse, ...(filter ? { filter } : {}) };
      const want = await exact.query(null, options);
      const got = await index.query(null, options);
      recall += recallAt10(want, got);
      // Every answer is exactly scored: a hit of both answers scores the same.
      const wanted = new Map(want.map((n) => [n.id, n.score]));
      for (const hit of got) if (wanted.has(hit.id)) expect(hit.score).toBeCloseTo(wanted.get(hit.id) as number, 5);
    }
    expect(recall / questions).toBeGreaterThanOrEqual(0.95);
    expect((await index.describe()).fullText.queries).toBe(questions);
    expect((await exact.describe()).fullText.queries).toBe(0);
    await index.close();
    await exact.close();
  });
});
