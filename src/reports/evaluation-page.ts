import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type { GateVerdict } from "../../indexer/evaluation/gate.js";
import type { Aggregate, EvaluationReport, QuestionRow } from "../../indexer/evaluation/run.js";

/**
 * An evaluation report as one self-contained HTML page: the gate's verdict on
 * top, per metric green vs live means with their 95 % CIs (Chart.js, inlined so
 * the page works offline and under a CSP that allows nothing external), and
 * the questions sorted by largest regression with their retrieved texts.
 *
 * Every report string goes through escapeHtml (markup) or scriptJson (the data
 * the charts read); nothing from a report is ever placed raw into the page.
 */

/** Retrieved rows shown per question, and the characters of each text. */
const SHOWN_RETRIEVED = 3;
const SHOWN_TEXT_CHARS = 240;

let chartSource: string | undefined;
/** Chart.js's UMD build, read once. Resolved through node's lookup from this file, so src/ (tsx) and dist/ (built) both find it. */
function chartJs(): string {
  if (chartSource === undefined) {
    // chart.js exports no ./dist/* subpath: resolve its main entry, the UMD build sits beside it.
    const main = createRequire(import.meta.url).resolve("chart.js");
    chartSource = readFileSync(join(dirname(main), "chart.umd.min.js"), "utf8");
  }
  return chartSource;
}

export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * JSON for a `<script type="application/json">`: `<`, `>` and `&` as \u escapes,
 * so no string can close the script (`</script`) or open a comment (`<!--`);
 * U+2028/2029 too, for old parsers. JSON.parse reads it back unchanged.
 */
export function scriptJson(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`);
}

/**
 * The page's Content-Security-Policy: its own nonce'd script and style, nothing
 * else (no fetches, fonts, frames or forms). The page carries it in a <meta>
 * too, so a written file is held to it; frame-ancestors only works as a header
 * (a browser reports it as an error in a <meta>).
 */
export function evaluationPageCsp(nonce: string, delivery: "header" | "meta" = "header"): string {
  const directives = [`default-src 'none'`, `script-src 'nonce-${nonce}'`, `style-src 'nonce-${nonce}'`, `img-src data:`, `base-uri 'none'`, `form-action 'none'`];
  return (delivery === "header" ? [...directives, `frame-ancestors 'none'`] : directives).join("; ");
}

export const newNonce = (): string => randomBytes(16).toString("base64");

export interface MetricSeries {
  name: string;
  green: Aggregate;
  live?: Aggregate;
}

export interface QuestionComparison {
  row: QuestionRow;
  green: number | undefined;
  live: number | undefined;
  /** green − live on the main metric; undefined without a live value. */
  delta: number | undefined;
}

/** The metric the gate watches most: the first non-regression rule's, else the first threshold's, else ndcg@10, else the first there is. */
export function mainMetric(report: EvaluationReport): string | undefined {
  const rules = report.gate?.rules ?? [];
  const names = Object.keys(report.aggregates);
  return rules.find((r) => r.rule === "non-regression")?.metric ?? rules[0]?.metric ?? (names.includes("ndcg@10") ? "ndcg@10" : names[0]);
}

/** Questions, largest regression (most negative green − live) first; without live, the lowest green value first. Ties by question id. */
export function questionsByRegression(report: EvaluationReport, live: EvaluationReport | undefined, metric: string | undefined): QuestionComparison[] {
  const liveRows = new Map((live?.questions ?? []).map((q) => [q.id, q]));
  const rows = report.questions.map((row): QuestionComparison => {
    const green = metric === undefined ? undefined : row.metrics[metric];
    const liveValue = metric === undefined ? undefined : liveRows.get(row.id)?.metrics[metric];
    return { row, green, live: liveValue, delta: green !== undefined && liveValue !== undefined ? green - liveValue : undefined };
  });
  const key = (q: QuestionComparison) => q.delta ?? q.green ?? Number.POSITIVE_INFINITY;
  return rows.sort((a, b) => key(a) - key(b) || (a.row.id < b.row.id ? -1 : a.row.id > b.row.id ? 1 : 0));
}

const fmt = (value: number | undefined) => (value === undefined || !Number.isFinite(value) ? "–" : value.toFixed(4));
const signed = (value: number | undefined) => (value === undefined ? "–" : `${value > 0 ? "+" : ""}${fmt(value)}`);
const cut = (text: string, max: number) => (text.length <= max ? text : `${text.slice(0, max - 1)}…`);

function verdictSection(report: EvaluationReport): string {
  const gate: GateVerdict | undefined = report.gate;
  if (!gate) {
    return `<section class="verdict neutral"><h2 id="verdict">No gate: ${escapeHtml(report.version)} is the live version, measured only</h2></section>`;
  }
  const rows = gate.rules
    .map(
      (r) =>
        `<tr class="${r.passed ? "pass" : "fail"}"><td>${escapeHtml(r.rule)}</td><td>${escapeHtml(r.metric)}</td><td>${fmt(r.observed)}${r.interval ? ` <span class="muted">(CI [${fmt(r.interval.lower)}, ${fmt(r.interval.upper)}])</span>` : ""}</td><td>${fmt(r.bound)}</td><td class="result">${r.passed ? "pass" : "FAIL"}</td><td class="detail">${escapeHtml(r.detail)}</td></tr>`,
    )
    .join("\n");
  const against = report.live ? ` against live ${escapeHtml(report.live.version)}` : gate.comparedWithLive ? "" : " (nothing live: thresholds only)";
  return `<section class="verdict ${gate.passed ? "passed" : "failed"}">
<h2 id="verdict">Gate ${gate.passed ? "passed" : "FAILED"}: ${escapeHtml(report.version)}${against}</h2>
<p>${escapeHtml(gate.summary)}</p>
<table class="rules"><thead><tr><th>rule</th><th>metric</th><th>observed</th><th>bound</th><th>result</th><th>detail</th></tr></thead>
<tbody>
${rows}
</tbody></table>
</section>`;
}

function questionRow(q: QuestionComparison, relevantMark: (row: QuestionRow, id: string) => boolean): string {
  const retrieved = q.row.retrieved
    .slice(0, SHOWN_RETRIEVED)
    .map(
      (r, i) =>
        `<li class="${relevantMark(q.row, r.id) ? "relevant" : ""}"><span class="rank">${i + 1}.</span> <code>${escapeHtml(cut(r.id, 60))}</code> <span class="muted">${escapeHtml(r.documentId)} · ${fmt(r.score)}${relevantMark(q.row, r.id) ? " · relevant" : ""}</span>${r.text === undefined ? "" : `<div class="text">${escapeHtml(cut(r.text.replace(/\s+/g, " ").trim(), SHOWN_TEXT_CHARS))}</div>`}</li>`,
    )
    .join("");
  const deltaClass = q.delta === undefined ? "" : q.delta < 0 ? "worse" : q.delta > 0 ? "better" : "";
  return `<tr><td><code>${escapeHtml(q.row.id)}</code></td><td class="question">${escapeHtml(q.row.question)}</td><td>${fmt(q.live)}</td><td>${fmt(q.green)}</td><td class="${deltaClass}">${signed(q.delta)}</td><td><ol class="retrieved">${retrieved || '<li class="muted">nothing retrieved</li>'}</ol></td></tr>`;
}

/** What the inline script reads: one chart per metric. */
function chartData(report: EvaluationReport, live: EvaluationReport | undefined): { greenLabel: string; liveLabel: string | undefined; metrics: MetricSeries[] } {
  const metrics = Object.entries(report.aggregates).map(([name, green]) => {
    const liveAggregate = live?.aggregates[name];
    return liveAggregate ? { name, green, live: liveAggregate } : { name, green };
  });
  return { greenLabel: `${live ? "green " : ""}${report.version}`, liveLabel: live ? `live ${live.version}` : undefined, metrics };
}

/** Draws the charts from the JSON data script; the CI is drawn by a small plugin as an error bar over each bar. */
const PAGE_SCRIPT = `
(function () {
  var data = JSON.parse(document.getElementById("report-data").textContent);
  var errorBars = {
    id: "errorBars",
    afterDatasetsDraw: function (chart) {
      var ctx = chart.ctx, y = chart.scales.y;
      chart.data.datasets.forEach(function (dataset, d) {
        var meta = chart.getDatasetMeta(d);
        if (meta.hidden) return;
        meta.data.forEach(function (bar, i) {
          var ci = dataset.ci[i];
          if (!ci) return;
          var top = y.getPixelForValue(ci[1]), bottom = y.getPixelForValue(ci[0]), x = bar.x, w = Math.min(10, bar.width / 4);
          ctx.save();
          ctx.strokeStyle = "#222"; ctx.lineWidth = 1.5;
          ctx.beginPath();
          ctx.moveTo(x, top); ctx.lineTo(x, bottom);
          ctx.moveTo(x - w, top); ctx.lineTo(x + w, top);
          ctx.moveTo(x - w, bottom); ctx.lineTo(x + w, bottom);
          ctx.stroke();
          ctx.restore();
        });
      });
    }
  };
  var grid = document.getElementById("charts");
  data.metrics.forEach(function (m) {
    var card = document.createElement("figure");
    card.className = "chart";
    var canvas = document.createElement("canvas");
    canvas.setAttribute("aria-label", m.name + ": means with 95 % confidence intervals");
    canvas.dataset.metric = m.name;
    var caption = document.createElement("figcaption");
    caption.textContent = m.name + " (n = " + m.green.n + ")";
    card.appendChild(caption);
    card.appendChild(canvas);
    grid.appendChild(card);
    var labels = [], means = [], cis = [], colors = [];
    if (m.live) { labels.push(data.liveLabel); means.push(m.live.mean); cis.push(m.live.ci); colors.push("#8c9bb0"); }
    labels.push(data.greenLabel); means.push(m.green.mean); cis.push(m.green.ci); colors.push("#2e9d5b");
    var top = Math.max.apply(null, cis.map(function (c) { return c[1]; }).concat(means));
    new Chart(canvas, {
      type: "bar",
      data: { labels: labels, datasets: [{ label: m.name, data: means, ci: cis, backgroundColor: colors }] },
      options: {
        animation: false,
        responsive: true,
        maintainAspectRatio: false,
        plugins: {
          legend: { display: false },
          tooltip: { callbacks: { afterLabel: function (item) { var c = cis[item.dataIndex]; return "95 % CI [" + c[0].toFixed(4) + ", " + c[1].toFixed(4) + "]"; } } }
        },
        scales: { y: { beginAtZero: true, suggestedMax: top > 1 ? top : 1 } }
      },
      plugins: [errorBars]
    });
  });
})();
`;

const STYLE = `
:root { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; color: #1d232b; background: #f6f7f9; }
body { margin: 0 auto; max-width: 1200px; padding: 24px; }
h1 { font-size: 1.4rem; margin: 0 0 4px; }
h2 { font-size: 1.15rem; margin: 0 0 8px; }
.muted { color: #66707c; }
section { background: #fff; border: 1px solid #dfe3e8; border-radius: 8px; padding: 16px; margin: 16px 0; }
.verdict.passed { border-left: 8px solid #2e9d5b; }
.verdict.failed { border-left: 8px solid #c93c37; }
.verdict.neutral { border-left: 8px solid #8c9bb0; }
.verdict.passed h2 { color: #1f7a43; }
.verdict.failed h2 { color: #b02f2a; }
table { border-collapse: collapse; width: 100%; font-size: 0.9rem; }
th, td { text-align: left; vertical-align: top; padding: 6px 8px; border-bottom: 1px solid #eceff2; }
th { background: #f1f3f5; }
tr.fail td.result { color: #b02f2a; font-weight: 700; }
tr.pass td.result { color: #1f7a43; font-weight: 700; }
td.detail { color: #444c56; }
td.worse { color: #b02f2a; font-weight: 600; }
td.better { color: #1f7a43; font-weight: 600; }
td.question { max-width: 260px; }
#charts { display: grid; grid-template-columns: repeat(auto-fill, minmax(220px, 1fr)); gap: 12px; }
figure.chart { margin: 0; height: 200px; display: flex; flex-direction: column; border: 1px solid #eceff2; border-radius: 6px; padding: 8px; }
figure.chart canvas { flex: 1; min-height: 0; }
figcaption { font-weight: 600; font-size: 0.85rem; margin-bottom: 4px; }
ol.retrieved { margin: 0; padding: 0; list-style: none; }
ol.retrieved li { margin-bottom: 6px; }
ol.retrieved li.relevant code { background: #e3f4e9; }
.text { color: #444c56; font-size: 0.82rem; margin-top: 2px; }
.legend .swatch { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin: 0 4px 0 12px; vertical-align: middle; }
.legend .live { background: #8c9bb0; }
.legend .green { background: #2e9d5b; }
`;

export interface PageOptions {
  /** The CSP nonce of the page's script and style; a fresh one by default. The HTTP answer repeats it in its header. */
  nonce?: string;
}

/** The report (and the live report the gate compared it with, if any) as a self-contained HTML page. */
export function renderEvaluationPage(report: EvaluationReport, live?: EvaluationReport, options: PageOptions = {}): string {
  const nonce = options.nonce ?? newNonce();
  const metric = mainMetric(report);
  const questions = questionsByRegression(report, live, metric);
  const relevant = new Map(report.questions.map((q) => [q.id, new Set(q.relevant)]));
  const isRelevant = (row: QuestionRow, id: string) => relevant.get(row.id)?.has(id) ?? false;
  const title = `Evaluation ${report.id}`;
  const legend = live ? `<p class="legend"><span class="swatch live"></span>live ${escapeHtml(live.version)}<span class="swatch green"></span>green ${escapeHtml(report.version)} <span class="muted">· bars are means, whiskers the 95 % bootstrap CI</span></p>` : `<p class="legend"><span class="swatch green"></span>${escapeHtml(report.version)} <span class="muted">· bars are means, whiskers the 95 % bootstrap CI</span></p>`;
  const sortNote = live ? `sorted by largest regression (green − live on ${escapeHtml(metric ?? "–")})` : `sorted by lowest ${escapeHtml(metric ?? "–")}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${escapeHtml(evaluationPageCsp(nonce, "meta"))}">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title>
<style nonce="${escapeHtml(nonce)}">${STYLE}</style>
</head>
<body>
<header>
<h1>${escapeHtml(title)}</h1>
<p class="muted">${escapeHtml(report.version)}${report.mode ? ` (${escapeHtml(report.mode)} retrieval)` : ""} on golden set ${escapeHtml(report.goldenSet.name)}@${report.goldenSet.version} · ${report.questions.length} questions judged by ${escapeHtml(report.goldenSet.judgmentLevel)} · k = ${report.k} · ${escapeHtml(report.createdAt)}${live ? ` · live report ${escapeHtml(live.id)}` : ""}</p>
</header>
${verdictSection(report)}
<section>
<h2>Metrics</h2>
${legend}
<div id="charts"></div>
</section>
<section>
<h2>Questions</h2>
<p class="muted">${sortNote}; the first ${SHOWN_RETRIEVED} retrieved, relevant ones highlighted.</p>
<table class="questions"><thead><tr><th>id</th><th>question</th><th>live</th><th>green</th><th>Δ</th><th>retrieved</th></tr></thead>
<tbody>
${questions.map((q) => questionRow(q, isRelevant)).join("\n")}
</tbody></table>
</section>
<script type="application/json" id="report-data">${scriptJson(chartData(report, live))}</script>
<script nonce="${escapeHtml(nonce)}">${chartJs()}</script>
<script nonce="${escapeHtml(nonce)}">${PAGE_SCRIPT}</script>
</body>
</html>
`;
}
