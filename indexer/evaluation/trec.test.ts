import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../core/errors.js";
import { evaluateRun } from "./metrics.js";
import { atof, atol, formatRun, parseQrels, parseRun } from "./trec.js";

const FIXTURES = resolve(import.meta.dirname, "../../test/fixtures/trec_eval");
const read = (name: string) => readFileSync(join(FIXTURES, name), "utf8");

describe("C number reading", () => {
  it("reads rel like atol: sign and leading digits, 0 when none", () => {
    expect([atol("3"), atol("-1"), atol("+2"), atol("2x"), atol("1.9"), atol("abc"), atol("")]).toEqual([3, -1, 2, 2, 1, 0, 0]);
  });

  it("reads score like atof: longest numeric prefix, exponents, hex, inf, nan", () => {
    expect([atof("0.80"), atof("1e-1"), atof("-.5"), atof("2.5abc"), atof("1e"), atof("abc"), atof("0x1.8p1"), atof("-inf")]).toEqual([0.8, 0.1, -0.5, 2.5, 1, 0, 3, -Infinity]);
    expect(atof("NaN")).toBeNaN();
  });
});

describe("parseQrels", () => {
  it("reads the graded edge qrels, keeping negative grades as unjudged", () => {
    const qrels = parseQrels(read("qrels.edge"));
    expect([...qrels.keys()]).toEqual(["q1", "q2", "q3", "q10"]);
    expect(qrels.get("q1")?.get("d11")).toBe(-1);
    expect(qrels.get("q1")?.get("d1")).toBe(3);
  });

  it("skips blank lines and # comments, even indented ones", () => {
    expect(parseQrels("# header\n\n   # indented\nq 0 a 1\r\n  \n").get("q")?.get("a")).toBe(1);
  });

  it("refuses a docno judged twice for a query, with both line numbers", () => {
    expect(() => parseQrels("q 0 a 1\nq 0 b 0\nq 0 a 0\n")).toThrow(/qrels line 3: document a is judged twice for query q \(first on line 1\)/);
  });

  it("refuses a line that is not four fields, naming the line", () => {
    const error = (() => {
      try {
        parseQrels("q 0 a 1\nq 0 b\n");
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).message).toMatch(/^qrels line 2: expected "qid iter docno rel" \(4 fields\), found 3/);
    expect((error as InvalidRequestError).details).toEqual({ line: 2 });
  });
});

describe("parseRun", () => {
  it("ignores the rank column and trailing junk, keeping the last line's tag", () => {
    const run = parseRun("q Q0 a 7 0.5 first extra junk\nq Q0 b 1 1e-1 last\n");
    expect(run.tag).toBe("last");
    expect(run.queries.get("q")).toEqual([
      { docno: "a", score: 0.5 },
      { docno: "b", score: 0.1 },
    ]);
  });

  it("reads results.trunc's trailing junk and keeps # inside docnos as data", () => {
    expect(parseRun(read("results.trunc")).queries.get("301")).toHaveLength(500);
    const msm = parseRun(read("results.msmarco-rag.judged"));
    expect(msm.tag).toBe("comment.test");
    expect([...msm.queries.values()].flat().some((d) => d.docno.includes("#"))).toBe(true);
  });

  it("skips comment lines, even after whitespace", () => {
    expect(parseRun("# a comment\n  # another\nq Q0 a 1 1 t\n").queries.get("q")).toHaveLength(1);
  });

  it("refuses a docno retrieved twice for a query, with both line numbers", () => {
    expect(() => parseRun("q Q0 a 1 1 t\nq Q0 a 2 0.5 t\n")).toThrow(/run line 2: document a is retrieved twice for query q \(first on line 1\)/);
  });

  it("refuses a short line, naming it", () => {
    expect(() => parseRun("q Q0 a 1 1 t\nq Q0 b 2 0.5\n")).toThrow(/run line 2: expected "qid Q0 docno rank score tag"/);
  });
});

describe("formatRun", () => {
  it("writes the edge run so that reading it back scores the same", () => {
    const qrels = parseQrels(read("qrels.edge"));
    const run = parseRun(read("run.edge"));
    const written = formatRun(run.queries, "ragops");
    const reread = parseRun(written);
    const options = { completeQueries: true, cutoffs: [1, 3, 5, 10] };
    expect(evaluateRun(qrels, reread.queries, options)).toEqual(evaluateRun(qrels, run.queries, options));
    expect(reread.tag).toBe("ragops");
  });

  it("writes queries in byte order and documents in trec_eval's order with ranks 1..n", () => {
    const text = formatRun(
      new Map([
        ["q2", [{ docno: "x", score: 1 }]],
        ["q10", [{ docno: "d10", score: 0.8 }, { docno: "d9", score: 0.8 }, { docno: "top", score: 2 }]],
      ]),
      "t",
    );
    expect(text).toBe("q10 Q0 top 1 2 t\nq10 Q0 d9 2 0.8 t\nq10 Q0 d10 3 0.8 t\nq2 Q0 x 1 1 t\n");
  });

  it("round-trips every finite score exactly", () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true, noDefaultInfinity: true }), (score) => {
        const back = parseRun(formatRun(new Map([["q", [{ docno: "d", score }]]]), "t")).queries.get("q")?.[0]?.score;
        expect(back === score || (back === 0 && score === 0)).toBe(true);
      }),
    );
  });

  it("refuses what trec_eval could not read back", () => {
    expect(() => formatRun(new Map([["q", [{ docno: "a b", score: 1 }]]]), "t")).toThrow(/document id "a b"/);
    expect(() => formatRun(new Map([["#q", [{ docno: "a", score: 1 }]]]), "t")).toThrow(/comment/);
    expect(() => formatRun(new Map([["q", [{ docno: "a", score: Number.NaN }]]]), "t")).toThrow(/finite/);
    expect(() => formatRun(new Map([["q", [{ docno: "a", score: 1 }, { docno: "a", score: 0 }]]]), "t")).toThrow(/twice/);
    expect(() => formatRun(new Map(), "two words")).toThrow(/run tag/);
  });
});
