import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../core/errors.js";
import { importTrec, parseQrelsText, parseTopicsText } from "./golden-import.js";

const FIXTURES = join(import.meta.dirname, "..", "..", "test", "fixtures", "golden");
const fixture = (name: string) => readFileSync(join(FIXTURES, name), "utf8");

/** Judgments per topic counted straight from the file's columns, as a check independent of the parser. */
function countJudgments(qrels: string, qid: string): { relevant: number; judged: number; grades: number[] } {
  const rows = qrels.trim().split("\n").map((l) => l.trim().split(/\s+/)).filter((f) => f[0] === qid);
  const rels = rows.map((f) => Number(f[3]));
  return { relevant: rels.filter((r) => r >= 1).length, judged: rels.filter((r) => r >= 0).length, grades: [...new Set(rels.filter((r) => r >= 0))].sort() };
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

  it("skips unjudged documents and topics without judgments, and keeps a topic judged only non-relevant", () => {
    const { set, skippedTopics, unjudged } = importTrec(fixture("topics.edge.tsv"), fixture("qrels.edge"));
    expect(set.questions.map((q) => q.id)).toEqual(["q1", "q2", "q3", "q10"]);
    const [q1, q2] = set.questions;
    expect(q1?.graded?.map((g) => g.id)).not.toContain("d11");
    expect(q1?.relevantDocuments).toEqual(["d1", "d2", "d3", "d5", "d9"]);
    expect(q2).toEqual({ id: "q2", question: "only non-relevant judgments", graded: [{ id: "d1", grade: 0 }, { id: "d2", grade: 0 }] });
    expect(skippedTopics).toEqual(["q4"]);
    expect(unjudged).toBe(1);
  });

  it("refuses grades above 3 and judged topics the topics file lacks, naming the qrels line", () => {
    const topics = "301\tquestion\n";
    expect(() => importTrec(topics, "301 0 a 1\n301 0 b 4\n")).toThrow(/qrels line 2: relevance 4 is above the golden-set scale 0-3/);
    expect(() => importTrec(topics, "301 0 a 1\n302 0 b 1\n302 0 c 1\n")).toThrow(/qrels line 2: topic 302 is judged but not in the topics file/);
  });

  it("refuses a collection where no topic is judged", () => {
    expect(() => importTrec("1\tq\n", "1 0 a -1\n")).toThrow(/no topic has a judged document/);
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
