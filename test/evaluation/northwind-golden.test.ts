import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseGoldenSet } from "../../indexer/evaluation/golden-set.js";
import { idFromPath } from "../../src/documents/ingest-files.js";

/** The demo's bundled golden set judges the demo corpus by the ids the demo uploads it under. */
const ROOT = join(import.meta.dirname, "..", "..", "examples");
const corpusIds = new Map(readdirSync(join(ROOT, "corpus")).map((file) => [idFromPath(file), file]));

describe("examples/golden/northwind.jsonl", () => {
  const set = parseGoldenSet(readFileSync(join(ROOT, "golden", "northwind.jsonl"), "utf8"));

  it("is a valid document-level set of 12-20 questions", () => {
    expect(set.judgmentLevel).toBe("document");
    expect(set.questions.length).toBeGreaterThanOrEqual(12);
    expect(set.questions.length).toBeLessThanOrEqual(20);
  });

  it("judges only documents the demo uploads, by the id it uploads them under", () => {
    for (const q of set.questions) {
      for (const id of [...(q.relevantDocuments ?? []), ...(q.graded ?? []).map((g) => g.id)]) expect(corpusIds.has(id), `${q.id}: ${id}`).toBe(true);
    }
  });

  it("quotes every reference context verbatim from one of the question's relevant documents", () => {
    for (const q of set.questions) {
      expect(q.referenceContexts?.length, q.id).toBeGreaterThan(0);
      const texts = (q.relevantDocuments ?? []).map((id) => readFileSync(join(ROOT, "corpus", corpusIds.get(id) as string), "utf8"));
      for (const context of q.referenceContexts ?? []) expect(texts.some((t) => t.includes(context)), `${q.id}: ${context}`).toBe(true);
    }
  });
});
