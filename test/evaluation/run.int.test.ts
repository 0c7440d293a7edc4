import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseGoldenSet } from "../../indexer/evaluation/golden-set.js";
import { putGoldenSet } from "../../indexer/evaluation/golden-store.js";
import { evaluateRun, trecMeasures } from "../../indexer/evaluation/metrics.js";
import { evaluateVersion, readReport, type EvaluateDeps } from "../../indexer/evaluation/run.js";
import { parseQrels, parseRun } from "../../indexer/evaluation/trec.js";
import { readManifest } from "../../indexer/sync/manifest.js";
import { profileKey } from "../../indexer/sync/profile.js";
import { search } from "../../src/search.js";
import { putDocument, startStack, type Stack } from "../support/stack.js";

const DOCS: Record<string, string> = {
  dock: "# Charging dock\n\nMount the CD-10 charging dock against a solid wall with 1.2 metres of clear floor in front of it.\n",
  battery: "# Battery\n\nReplace the BP-48 battery pack when a full charge lasts less than six hours of picking.\n",
  travel: "# Travel\n\nHotel stays are reimbursed up to 180 EUR per night in high-cost cities with a receipt.\n",
  wifi: "# Wi-Fi\n\nThe robots need WPA2-Enterprise and port 8883 open for MQTT to the Flock broker.\n",
};

const GOLDEN = [
  { id: "q1", question: "Where do I mount the charging dock?", relevantDocuments: ["dock"], referenceContexts: ["Mount the CD-10 charging dock against a solid wall with 1.2 metres of clear floor in front of it."] },
  { id: "q2", question: "When should the BP-48 battery be replaced?", graded: [{ id: "battery", grade: 3 }, { id: "dock", grade: 1 }] },
  { id: "q3", question: "How much is a hotel night reimbursed?", relevantDocuments: ["travel"] },
  { id: "q4", question: "Which port does MQTT need?", relevantDocuments: ["wifi", "dock"], graded: [{ id: "travel", grade: 0 }] },
]
  .map((q) => JSON.stringify(q))
  .join("\n");

describe("evaluation runs", () => {
  let stack: Stack;
  let deps: EvaluateDeps;

  beforeAll(async () => {
    stack = await startStack();
    for (const [id, text] of Object.entries(DOCS)) await putDocument(stack.url, id, text);
    await putGoldenSet(stack.runtime.store, "mini", parseGoldenSet(GOLDEN));
    const { runtime, config } = stack;
    deps = { store: runtime.store, redis: runtime.redis, redisPrefix: config.redis.prefix, catalog: runtime.catalog, evaluation: config.evaluation };
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("scores a version with the same numbers trec_eval gives its written run and qrels, per question and on average", async () => {
    const progress: Array<[number, number]> = [];
    const report = await evaluateVersion(deps, { version: "v1", goldenSet: { name: "mini", version: "latest" }, k: 3, onProgress: (done, total) => void progress.push([done, total]) });
    expect(report).toMatchObject({ version: "v1", goldenSet: { name: "mini", version: 1, judgmentLevel: "document" }, k: 3, cutoffs: [1, 3, 5, 10] });
    expect(progress).toEqual([
      [1, 4],
      [2, 4],
      [3, 4],
      [4, 4],
    ]);
    expect(report.questions.map((q) => q.id)).toEqual(["q1", "q2", "q3", "q4"]);
    for (const row of report.questions) expect(row.retrieved.length).toBeLessThanOrEqual(3);
    expect(report.questions[3]?.relevant.sort()).toEqual(["dock", "wifi"]);

    const runText = (await stack.runtime.store.get(report.trec.run)).body.toString("utf8");
    const qrelsText = (await stack.runtime.store.get(report.trec.qrels)).body.toString("utf8");
    const fromFiles = evaluateRun(parseQrels(qrelsText), parseRun(runText).queries, { cutoffs: report.cutoffs, completeQueries: true });
    expect(fromFiles.queries.map((q) => q.qid)).toEqual(["q1", "q2", "q3", "q4"]);
    for (const { qid, metrics } of fromFiles.queries) {
      const row = report.questions.find((q) => q.id === qid)?.metrics as Record<string, number>;
      const trec = trecMeasures(metrics);
      for (const k of report.cutoffs) {
        expect(row[`hit@${k}`], `${qid} hit@${k}`).toBe(trec.get(`success_${k}`));
        expect(row[`precision@${k}`], `${qid} precision@${k}`).toBe(trec.get(`P_${k}`));
        expect(row[`recall@${k}`], `${qid} recall@${k}`).toBe(trec.get(`recall_${k}`));
        expect(row[`ndcg@${k}`], `${qid} ndcg@${k}`).toBe(trec.get(`ndcg_cut_${k}`));
      }
      expect([row.mrr, row.map, row.rprec]).toEqual([trec.get("recip_rank"), trec.get("map"), trec.get("Rprec")]);
    }
    const all = trecMeasures(fromFiles.all);
    expect(report.aggregates["ndcg@10"]?.mean).toBeCloseTo(all.get("ndcg_cut_10") as number, 12);
    expect(report.aggregates.map?.mean).toBeCloseTo(all.get("map") as number, 12);
    expect(report.aggregates.mrr?.mean).toBeCloseTo(all.get("recip_rank") as number, 12);
  });

  it("holds RAGAS context metrics where the golden set gives what they need, and 95 % intervals around each mean", async () => {
    const report = await evaluateVersion(deps, { version: "v1", goldenSet: { name: "mini", version: 1 } });
    expect(report.k).toBe(stack.config.evaluation.defaultK);
    const [q1, q2] = report.questions;
    // q1 has a reference context, copied from the dock document: the non-LLM forms find it.
    expect(q1?.metrics.context_recall).toBe(1);
    expect(q1?.metrics.context_precision).toBeGreaterThan(0);
    // The contained forms find it too (the reference is the dock document's sentence, verbatim).
    expect(q1?.metrics.contained_context_recall).toBe(1);
    expect(q1?.metrics.contained_context_precision).toBeGreaterThan(0);
    expect(q2?.metrics.context_precision).toBeUndefined();
    expect(q2?.metrics.contained_context_recall).toBeUndefined();
    expect(q2?.metrics.id_context_recall).toBe(1);
    expect(report.aggregates.context_recall).toMatchObject({ mean: 1, n: 1 });
    expect(report.aggregates.contained_context_recall).toMatchObject({ mean: 1, n: 1 });
    for (const [name, { mean, ci }] of Object.entries(report.aggregates)) {
      expect(ci[0], name).toBeLessThanOrEqual(mean + 1e-12);
      expect(ci[1], name).toBeGreaterThanOrEqual(mean - 1e-12);
    }
    // The same golden set on the same index gives the same numbers and intervals (seeded).
    const again = await evaluateVersion(deps, { version: "v1", goldenSet: { name: "mini", version: 1 } });
    expect(again.aggregates).toEqual(report.aggregates);
    expect(await readReport(stack.runtime.store, report.id)).toEqual(report);
  });

  it("records how a hybrid evaluation fused (the version's fusion, or the one asked for, retrieving as search does), and no fusion for dense or text", async () => {
    const ask = (extra: Partial<Parameters<typeof evaluateVersion>[1]>) => evaluateVersion(deps, { version: "v1", goldenSet: { name: "mini", version: "latest" }, k: 3, ...extra });
    const own = await ask({});
    expect(own).toMatchObject({ mode: "hybrid", fusion: "relative-score" });
    const ranks = await ask({ fusion: "rrf" });
    expect(ranks).toMatchObject({ mode: "hybrid", fusion: "rrf" });
    for (const [report, fusion] of [[own, "relative-score"], [ranks, "rrf"]] as const) {
      for (const row of report.questions) {
        // Judged by document: each document once, with its best chunk's score (equal scores in id order: trec_eval orders ties the other way).
        const inOrder = (hits: { id: string; score: number }[]) => hits.sort((a, b) => b.score - a.score || (a.id < b.id ? -1 : 1));
        const searched = (await search(stack.runtime, { query: row.question, k: 3, fusion, group: "document" })).results.map((r) => ({ id: r.documentId, score: r.score }));
        expect(inOrder(row.retrieved.map((r) => ({ id: r.id, score: Number(r.score.toFixed(6)) })))).toEqual(inOrder(searched));
      }
    }
    expect((await ask({ mode: "text" })).fusion).toBeUndefined();
  });

  it("refuses a k above evaluation.maxTopK, naming the setting", async () => {
    await expect(evaluateVersion(deps, { version: "v1", goldenSet: { name: "mini", version: 1 }, k: stack.config.evaluation.maxTopK + 1 })).rejects.toThrow(/evaluation\.maxTopK/);
  });

  it("scores a set judged by chunks on the chunk ranking, reading <documentId>#<ordinal> as the version's chunk there, and judges a question with only reference contexts by them", async () => {
    const chunkSet = [
      { id: "c1", question: "Which port does MQTT need?", relevantChunks: ["wifi#0"] },
      { id: "c2", question: "hotel night reimbursed receipt", referenceContexts: ["Hotel stays are reimbursed up to 180 EUR per night in high-cost cities with a receipt."] },
    ]
      .map((q) => JSON.stringify(q))
      .join("\n");
    await putGoldenSet(stack.runtime.store, "chunks", parseGoldenSet(chunkSet));
    const report = await evaluateVersion(deps, { version: "v1", goldenSet: { name: "chunks", version: "latest" }, k: 4 });
    expect(report.goldenSet.judgmentLevel).toBe("chunk");
    const manifest = await readManifest(stack.runtime.store, profileKey(stack.config), "wifi");
    const wifiChunk = manifest?.chunks[0]?.hash as string;
    const [c1, c2] = report.questions;
    expect(c1?.relevant).toEqual([wifiChunk]);
    expect(c1?.retrieved.map((r) => r.id)).toContain(wifiChunk);
    expect(c1?.retrieved.find((r) => r.id === wifiChunk)?.documentId).toBe("wifi");
    expect(c1?.metrics["recall@10"]).toBe(1);
    // c2: the travel chunk matches its reference context, so it is the one relevant chunk.
    const travelChunk = (await readManifest(stack.runtime.store, profileKey(stack.config), "travel"))?.chunks[0]?.hash;
    expect(c2?.relevant).toEqual([travelChunk]);
    expect(c2?.metrics.context_recall).toBe(1);
    expect(c2?.metrics.id_context_recall).toBeUndefined();
  });
});
