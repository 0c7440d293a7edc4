import { readFileSync } from "node:fs";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../core/errors.js";
import { importTrec, parseQrelsText, parseTopicsText } from "./golden-import.js";
import { MAX_GRADE, MIN_GRADE, parseGoldenSet, serializeGoldenSet } from "./golden-set.js";
import { aggregateRows, scoreQuestion } from "./run.js";
import type { RetrievedChunk } from "./retrieve.js";
import { parseRun } from "./trec.js";

const FIXTURES = join(import.meta.dirname, "..", "..", "test", "fixtures", "golden");
const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");
const TREC_EVAL = join(import.meta.dirname, "..", "..", "test", "fixtures", "trec_eval");
const trecFixture = (name: string) => readFileSync(join(TREC_EVAL, name), "utf8");

/** Judgments per topic counted straight from the file's columns, as a check independent of the parser. */
function countJudgments(qrels: string, qid: string): { relevant: number; judged: number; grades: number[] } {
  const rows = qrels.trim().split("\n").map((l) => l.trim().split(/\s+/)).filter((f) => f[0] === qid);
  const rels = rows.map((f) => Number(f[3]));
  return { relevant: rels.filter((r) => r >= 1).length, judged: rels.length, grades: [...new Set(rels)].sort() };
}

describe("importTrec", () => {
  it("imports classic SGML topics and the trec_eval test qrels as one question per topic, judged by docno", () => {
    const qrels = fixture("qrels.test");
    const { set, skippedTopics, unjudged } = importTrec(fixture("topics.trec-301-303.txt"), qrels);
    expect(set.judgmentLevel).toBe("document");
    expect(set.questions.map((q) => [q.id, q.question])).toEqual([
      ["301", "International Organized Crime"],
      ["302", "Poliomyelitis and Post-Polio"],
      ["303", "Hubble Telescope Achievements"],
    ]);
    for (const q of set.questions) {
      const counts = countJudgments(qrels, q.id);
      expect(q.relevantDocuments?.length, q.id).toBe(counts.relevant);
      expect(q.graded?.length, q.id).toBe(counts.judged);
    }
    expect(set.questions[0]?.graded?.[0]).toEqual({ id: "CR93E-10279", grade: 0 });
    expect([skippedTopics, unjudged]).toEqual([[], 0]);
  });

  it("imports TSV topics and graded TREC RAG qrels, keeping grades 0-3 and docnos with '#' as document ids", () => {
    const qrels = fixture("qrels.msmarco-rag");
    const { set } = importTrec(fixture("topics.msmarco-rag.tsv"), qrels);
    expect(set.questions).toHaveLength(31);
    expect(set.judgmentLevel).toBe("document");
    const first = set.questions[0];
    expect(first?.id).toBe("2024-127266");
    expect(first?.graded?.slice(0, 2)).toEqual([
      { id: "msmarco_v2.1_doc_00_880019750#4_1633802806", grade: 1 },
      { id: "msmarco_v2.1_doc_05_1607548104#0_3077382650", grade: 2 },
    ]);
    for (const q of set.questions) {
      const counts = countJudgments(qrels, q.id);
      expect([q.relevantDocuments?.length ?? 0, q.graded?.length, [...new Set(q.graded?.map((g) => g.grade))].sort()], q.id).toEqual([counts.relevant, counts.judged, counts.grades]);
    }
  });

  it("keeps unjudged documents as their negative grade, skips topics without qrels, and keeps a topic judged only non-relevant", () => {
    const { set, skippedTopics, unjudged } = importTrec(fixture("topics.edge.tsv"), fixture("qrels.edge"));
    expect(set.questions.map((q) => q.id)).toEqual(["q1", "q2", "q3", "q10"]);
    const [q1, q2] = set.questions;
    expect(q1?.graded).toContainEqual({ id: "d11", grade: -1 });
    expect(q1?.relevantDocuments).toEqual(["d1", "d2", "d3", "d5", "d9"]);
    expect(q2).toEqual({ id: "q2", question: "only non-relevant judgments", graded: [{ id: "d1", grade: 0 }, { id: "d2", grade: 0 }] });
    expect(skippedTopics).toEqual(["q4"]);
    expect(unjudged).toBe(1);
  });

  it("keeps a topic whose every judgment is unjudged, as trec_eval counts it (0 everywhere)", () => {
    const { set, unjudged } = importTrec("1\tq\n", "1 0 a -1\n1 0 b -2\n");
    expect(set.questions).toEqual([{ id: "1", question: "q", graded: [{ id: "a", grade: -1 }, { id: "b", grade: -2 }] }]);
    expect(unjudged).toBe(2);
  });

  it("refuses grades outside trec_eval's -127..127 and judged topics the topics file lacks, naming the qrels line", () => {
    const topics = "301\tquestion\n";
    expect(importTrec(topics, "301 0 a 1\n301 0 b 4\n301 0 c 127\n301 0 d -127\n").set.questions[0]?.graded?.map((g) => g.grade)).toEqual([1, 4, 127, -127]);
    expect(() => importTrec(topics, "301 0 a 1\n301 0 b 128\n301 0 c -128\n")).toThrow(/qrels line 2: relevance 128 is outside -127\.\.127.*qrels line 3: relevance -128/);
    expect(() => importTrec(topics, "301 0 a 1\n302 0 b 1\n302 0 c 1\n")).toThrow(/qrels line 2: topic 302 is judged but not in the topics file/);
  });

  it("refuses a collection where no topic is judged", () => {
    expect(() => importTrec("1\tq\n", "# no judgments\n")).toThrow(/no topic has a qrels line/);
  });
});

/** A TREC run's documents as what retrieval hands the evaluation: one chunk per document, with the run's score. */
const runAsHits = (docs: readonly { docno: string; score: number }[]): RetrievedChunk[] =>
  docs.map(({ docno, score }) => ({ chunkId: docno, score, documentId: docno, documentIds: [docno], text: "" }));

/** The report's metric names for trec_eval's measure names (run.ts). */
function reportName(measure: string): string | undefined {
  const cut = /^(success|P|recall|ndcg_cut)_(\d+)$/.exec(measure);
  if (cut) return `${{ success: "hit", P: "precision", recall: "recall", ndcg_cut: "ndcg" }[cut[1] as "success" | "P" | "recall" | "ndcg_cut"]}@${cut[2]}`;
  return { recip_rank: "mrr", map: "map", Rprec: "rprec" }[measure];
}

describe("a TREC collection imported as it is scores as trec_eval scores it", () => {
  // qrels.rel_level: grades -1 (unjudged) to 4, scored by trec_eval 10.0 into rl.*.out (default relevance level 1).
  for (const expected of ["rl.sel.q.out", "rl.all_trec.out"]) {
    it(`reproduces ${expected} through import, the stored golden set and the evaluation run's scoring`, () => {
      const imported = importTrec(fixture("topics.trec-301-303.txt"), trecFixture("qrels.rel_level"));
      // As the object store keeps it: canonical JSONL, read back.
      const set = parseGoldenSet(serializeGoldenSet(imported.set.questions));
      const rows = trecFixture(join("expected", expected))
        .trim()
        .split("\n")
        .map((line) => line.trim().split(/\s+/) as [string, string, string]);
      const cutoffs = [...new Set(rows.flatMap(([measure]) => (/^(success|P|recall|ndcg_cut)_(\d+)$/.test(measure) ? [Number(/_(\d+)$/.exec(measure)?.[1])] : [])))].sort((a, b) => a - b);
      const run = parseRun(trecFixture("results.test")).queries;
      const scored = set.questions.map((q) => scoreQuestion(q, runAsHits(run.get(q.id) ?? []), set.judgmentLevel, cutoffs).row);
      const aggregates = aggregateRows(scored, { resamples: 10, seed: 1 });
      let compared = 0;
      for (const [measure, qid, value] of rows) {
        const name = reportName(measure);
        if (!name) continue;
        const got = qid === "all" ? aggregates[name]?.mean : scored.find((r) => r.id === qid)?.metrics[name];
        expect(got, `${measure} ${qid}`).toBeDefined();
        // The same doubles as trec_eval prints at 17 significant digits: identical to the last bit.
        expect(Math.abs((got as number) - Number(value)), `${measure} ${qid}: ours ${got}, trec_eval ${value}`).toBe(0);
        compared++;
      }
      expect(compared).toBeGreaterThan(30);
    });
  }
});

describe("TREC qrels round trip (property)", () => {
  const docno = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._#-]{0,15}$/);
  const qrels = fc.uniqueArray(fc.record({ qid: fc.constantFrom("1", "2", "30"), docno, rel: fc.integer({ min: MIN_GRADE, max: MAX_GRADE }) }), { selector: (j) => `${j.qid} ${j.docno}`, minLength: 1, maxLength: 40 });

  it("imports any qrels with grades trec_eval reads without error and keeps every judgment with its grade", () => {
    fc.assert(
      fc.property(qrels, (judgments) => {
        const text = judgments.map((j) => `${j.qid} 0 ${j.docno} ${j.rel}`).join("\n");
        const { set, skippedTopics, unjudged } = importTrec("1\tone\n2\ttwo\n30\tthirty\n", text);
        const kept = set.questions.flatMap((q) => (q.graded ?? []).map((g) => ({ qid: q.id, docno: g.id, rel: g.grade })));
        expect(kept).toEqual(["1", "2", "30"].flatMap((qid) => judgments.filter((j) => j.qid === qid)));
        expect(skippedTopics).toEqual(["1", "2", "30"].filter((qid) => !judgments.some((j) => j.qid === qid)));
        expect(unjudged).toBe(judgments.filter((j) => j.rel < 0).length);
        for (const q of set.questions) expect(q.relevantDocuments ?? [], q.id).toEqual((q.graded ?? []).filter((g) => g.grade >= 1).map((g) => g.id));
      }),
    );
  });
});

describe("parseQrelsText", () => {
  it("reads any run of spaces or tabs, skips blank and # lines, and reports bad lines by number", () => {
    expect(parseQrelsText("# comment\n\n301\t0  a   1\r\n")).toEqual([{ qid: "301", docno: "a", rel: 1, line: 3 }]);
    const error = (() => {
      try {
        parseQrelsText("301 0 a 1\n301 0 b\n301 0 c x\n301 0 a 0\n");
      } catch (e) {
        return e as InvalidRequestError;
      }
    })();
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error?.details?.issues).toEqual([
      'qrels line 2: expected 4 fields "qid iter docno rel", found 3',
      'qrels line 3: relevance "x" is not an integer',
      "qrels line 4: docno a is judged twice for topic 301",
    ]);
  });
});

describe("parseTopicsText", () => {
  it("reads the title, the description or both from classic topics, with or without end tags", () => {
    const text = "<top>\n<num> Number: 7 </num>\n<title> Topic: Solar power </title>\n<desc> Description:\nHow efficient\nare panels? </desc>\n</top>\n<top><num>8<title>Wind\n</top>";
    expect(parseTopicsText(text).map((t) => [t.qid, t.text, t.line])).toEqual([
      ["7", "Solar power", 1],
      ["8", "Wind", 8],
    ]);
    const first = text.slice(0, text.indexOf("<top><num>8"));
    expect(parseTopicsText(first, "description")[0]?.text).toBe("How efficient are panels?");
    expect(parseTopicsText(first, "title+description")[0]?.text).toBe("Solar power. How efficient are panels?");
    expect(() => parseTopicsText(text, "description")).toThrow(/topics line 8: topic 8 has no <desc> text/);
  });

  it("reports a TSV line without a tab and a repeated topic by line", () => {
    expect(() => parseTopicsText("1\ta\n2 b\n")).toThrow(/topics line 2: expected "qid<TAB>question"/);
    expect(() => parseTopicsText("1\ta\n1\tb\n")).toThrow(/topics line 2: topic 1 is defined again \(first at line 1\)/);
  });
});

describe("docnos that read like chunk references", () => {
  it("stay document ids in an imported collection, even in a topic judged only non-relevant", () => {
    const { set } = importTrec("1\tone\n2\ttwo\n", "1 0 doc-a#1 1\n2 0 doc-b#2 0\n2 0 doc-c#0 -1\n");
    expect(set.judgmentLevel).toBe("document");
    expect(set.questions[1]?.graded).toEqual([{ id: "doc-b#2", grade: 0 }, { id: "doc-c#0", grade: -1 }]);
  });
});
