import fc from "fast-check";
import { Parser } from "htmlparser2";
import { describe, expect, it } from "vitest";
import type { EvaluationReport } from "../../indexer/evaluation/run.js";
import { evaluationPageCsp, mainMetric, questionsByRegression, renderEvaluationPage, scriptJson } from "./evaluation-page.js";

interface Strings {
  version: string;
  golden: string;
  questionId: string;
  question: string;
  retrievedId: string;
  documentId: string;
  text: string;
  metric: string;
  detail: string;
  summary: string;
}

const aggregate = (mean: number) => ({ mean, ci: [mean - 0.1, mean + 0.1] as [number, number], n: 2 });

function report(s: Strings, version = s.version): EvaluationReport {
  return {
    id: `${version}.r`,
    version,
    goldenSet: { name: s.golden, version: 1, judgmentLevel: "document" },
    k: 10,
    cutoffs: [10],
    createdAt: "2026-12-02T00:00:00.000Z",
    questions: [
      { id: s.questionId, question: s.question, retrieved: [{ id: s.retrievedId, documentId: s.documentId, score: 0.5, text: s.text }], relevant: [s.retrievedId], metrics: { [s.metric]: 0.5, "ndcg@10": 1 } },
      { id: "q2", question: "plain", retrieved: [], relevant: [], metrics: { [s.metric]: 1, "ndcg@10": 0 } },
    ],
    aggregates: { [s.metric]: aggregate(0.75), "ndcg@10": aggregate(0.5) },
    trec: { run: "r", qrels: "q", tag: "t" },
    gate: {
      passed: false,
      comparedWithLive: true,
      summary: s.summary,
      rules: [{ rule: "non-regression", metric: s.metric, observed: -0.2, bound: -0.05, passed: false, detail: s.detail, interval: { estimate: -0.2, lower: -0.4, upper: -0.1, confidence: 0.95, resamples: 100 } }],
    },
    live: { version: "live", reportId: "live.r" },
  };
}

/** The page as a tokenizer sees it: every element opened, and the text of each script. */
function tokens(html: string): { tags: string[]; scripts: Array<{ attrs: Record<string, string>; text: string }>; comments: number } {
  const tags: string[] = [];
  const scripts: Array<{ attrs: Record<string, string>; text: string }> = [];
  let comments = 0;
  let open: { attrs: Record<string, string>; text: string } | undefined;
  const parser = new Parser(
    {
      onopentag: (name, attrs) => {
        tags.push(name);
        if (name === "script") open = { attrs, text: "" };
      },
      ontext: (text) => {
        if (open) open.text += text;
      },
      onclosetag: (name) => {
        if (name !== "script" || !open) return;
        scripts.push(open);
        open = undefined;
      },
      oncomment: () => void comments++,
    },
    { decodeEntities: true },
  );
  parser.write(html);
  parser.end();
  return { tags, scripts, comments };
}

const hostile = fc.constantFrom("</script>", "</SCRIPT >", "<!--", "-->", "<script>alert(1)</script>", '"><img src=x onerror=alert(1)>', "&amp;", "\u2028", "]]>", "<style>", "'");
const anyText = fc.array(fc.oneof(fc.string(), hostile), { maxLength: 4 }).map((parts) => parts.join(""));
const strings: fc.Arbitrary<Strings> = fc.record({
  version: anyText,
  golden: anyText,
  questionId: anyText,
  question: anyText,
  retrievedId: anyText,
  documentId: anyText,
  text: anyText,
  metric: anyText.filter((m) => m !== "ndcg@10"),
  detail: anyText,
  summary: anyText,
});
const plain: Strings = { version: "v2", golden: "g", questionId: "q1", question: "q", retrievedId: "d", documentId: "d", text: "t", metric: "m", detail: "x", summary: "s" };

describe("the evaluation page", () => {
  it("never lets a report string open an element, a script or a comment, and its data script reads back as written", () => {
    const baseline = tokens(renderEvaluationPage(report(plain), report(plain, "live"), { nonce: "n0" }));
    fc.assert(
      fc.property(strings, (s) => {
        const green = report(s);
        const html = renderEvaluationPage(green, report(s, "live"), { nonce: "n0" });
        const page = tokens(html);
        // The same elements (the rows may sort differently: their order follows the ids).
        expect([...page.tags].sort()).toEqual([...baseline.tags].sort());
        expect(page.comments).toBe(0);
        expect(page.scripts.map((x) => x.attrs)).toEqual(baseline.scripts.map((x) => x.attrs));
        const data = page.scripts.find((x) => x.attrs.id === "report-data")?.text ?? "";
        expect(data).not.toMatch(/<\/script|<!--/i);
        const parsed = JSON.parse(data) as { greenLabel: string; metrics: Array<{ name: string }> };
        expect(parsed.greenLabel).toBe(`green ${s.version}`);
        expect(parsed.metrics.map((m) => m.name)).toEqual(Object.keys(green.aggregates));
      }),
      { numRuns: 300 },
    );
  });

  it("shows every question and retrieved text as the text it is", () => {
    const s = { ...plain, question: "<b>bold</b> & </td>", text: "<!-- </script> -->" };
    const html = renderEvaluationPage(report(s), undefined, { nonce: "n0" });
    expect(html).toContain("&#60;b&#62;bold&#60;/b&#62; &#38; &#60;/td&#62;");
    expect(html).toContain("&#60;!-- &#60;/script&#62; --&#62;");
  });

  it("escapes script-breaking characters in the data as JSON escapes that parse back", () => {
    const value = { s: "</script><!-- & \u2028 >" };
    const json = scriptJson(value);
    expect(json).not.toMatch(/[<>&\u2028]/);
    expect(JSON.parse(json)).toEqual(value);
  });

  it("puts the gate's verdict first, each rule with observed, bound and result", () => {
    const html = renderEvaluationPage(report(plain), report(plain, "live"), { nonce: "n0" });
    expect(html.indexOf('id="verdict"')).toBeLessThan(html.indexOf('id="charts"'));
    expect(html).toContain("Gate FAILED: v2 against live live");
    expect(html).toMatch(/<td>non-regression<\/td><td>m<\/td><td>-0\.2000 .*CI \[-0\.4000, -0\.1000\].*<\/td><td>-0\.0500<\/td><td class="result">FAIL<\/td>/);
  });

  it("inlines Chart.js under a CSP that allows only the page's nonce'd script and style", () => {
    const html = renderEvaluationPage(report(plain), undefined, { nonce: "abc" });
    expect(html).toContain(`content="${evaluationPageCsp("abc", "meta").replace(/'/g, "&#39;")}"`);
    expect(evaluationPageCsp("abc", "meta")).not.toContain("frame-ancestors");
    expect(evaluationPageCsp("abc")).toMatch(/^default-src 'none'; script-src 'nonce-abc'; style-src 'nonce-abc'; .*frame-ancestors 'none'$/);
    const { scripts } = tokens(html);
    expect(scripts.filter((x) => x.attrs.type !== "application/json").every((x) => x.attrs.nonce === "abc" && !x.attrs.src)).toBe(true);
    expect(scripts.some((x) => x.text.includes("Chart"))).toBe(true);
    expect(html).not.toMatch(/\s(src|href)=["']?https?:/);
  });

  it("sorts questions by largest regression of the gated metric, green − live", () => {
    const green = report(plain);
    const live: EvaluationReport = { ...report(plain, "live"), questions: green.questions.map((q) => ({ ...q, metrics: { ...q.metrics, m: q.id === "q2" ? 1 : 0.2 } })) };
    expect(mainMetric(green)).toBe("m");
    // q1: 0.5 − 0.2 = +0.3; q2: 1 − 1 = 0.
    expect(questionsByRegression(green, live, "m").map((q) => [q.row.id, q.delta])).toEqual([
      ["q2", 0],
      ["q1", expect.closeTo(0.3, 10)],
    ]);
    const worse: EvaluationReport = { ...live, questions: live.questions.map((q) => ({ ...q, metrics: { ...q.metrics, m: q.id === "q1" ? 0.9 : 1 } })) };
    expect(questionsByRegression(green, worse, "m").map((q) => q.row.id)).toEqual(["q1", "q2"]);
  });
});
