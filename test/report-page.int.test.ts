import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateWithGate } from "../indexer/evaluation/gated.js";
import { parseGoldenSet } from "../indexer/evaluation/golden-set.js";
import { putGoldenSet } from "../indexer/evaluation/golden-store.js";
import type { EvaluateDeps, EvaluationReport } from "../indexer/evaluation/run.js";
import { putDocument, startStack, waitForJob, type Stack } from "./support/stack.js";

/**
 * The evaluation report page in a real browser: Debian's chromium, headless,
 * driven by playwright-core. The page must render from what the server sends
 * alone (Chart.js inlined, a CSP that allows nothing external).
 */
const CHROMIUM = "/usr/bin/chromium";

interface PageCanvas {
  dataset: Record<string, string | undefined>;
  width: number;
  height: number;
}
interface PageGlobals {
  document: { querySelectorAll(selector: "canvas"): Iterable<PageCanvas> & { length: number } };
  Chart: { getChart(canvas: PageCanvas): { data: { labels: string[]; datasets: Array<{ data: number[] }> } } | undefined };
}

const DOCS = [
  { id: "dock", text: "# Charging dock\n\nMount the CD-10 charging dock against a solid wall with 1.2 metres of clear floor in front of it.", question: "charging dock mount wall clear floor", public: true },
  { id: "battery", text: "# Battery\n\nReplace the BP-48 battery pack when a full charge lasts less than six hours of picking.", question: "replace BP-48 battery pack full charge hours", public: false },
  { id: "travel", text: "# Travel\n\nHotel stays are reimbursed up to 180 EUR per night in high-cost cities with a receipt.", question: "hotel stays reimbursed per night receipt", public: true },
  { id: "wifi", text: "# Wi-Fi\n\nThe robots need WPA2-Enterprise and port 8883 open for MQTT to the Flock broker </script><!-- <b>.", question: "WPA2-Enterprise port 8883 MQTT broker </script><script>alert(1)</script>", public: false },
  { id: "tires", text: "# Tires\n\nRotate the polyurethane drive tires every 900 operating hours and swap them at 3 mm tread.", question: "rotate polyurethane drive tires tread", public: true },
  { id: "lidar", text: "# Lidar\n\nClean the lidar window with a dry microfibre cloth; solvents cloud the coating.", question: "clean lidar window microfibre cloth solvents", public: false },
];

describe("the evaluation report page", () => {
  let stack: Stack;
  let browser: Browser;
  let report: EvaluationReport;

  beforeAll(async () => {
    if (!existsSync(CHROMIUM)) throw new Error(`no ${CHROMIUM}: the report page is checked in Debian's chromium; install it with: apt-get install -y chromium`);
    stack = await startStack();
    for (const d of DOCS) await putDocument(stack.url, d.id, d.text, d.public ? { tags: "public" } : {});
    await putGoldenSet(stack.runtime.store, "page", parseGoldenSet(DOCS.map((d, i) => JSON.stringify({ id: `q${i + 1}`, question: d.question, relevantDocuments: [d.id] })).join("\n")));
    // A green that lost half the corpus: it regresses, so the page has a failed verdict and regressions to sort.
    const created = await fetch(`${stack.url}/v1/indexes`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ version: "v2", config: { filter: { tags: ["public"] } } }) });
    expect(created.status).toBe(202);
    expect((await waitForJob(stack.url, String(((await created.json()) as { buildJobId: string }).buildJobId))).state).toBe("completed");
    const { runtime, config } = stack;
    const deps: EvaluateDeps = { store: runtime.store, redis: runtime.redis, redisPrefix: config.redis.prefix, catalog: runtime.catalog, evaluation: config.evaluation };
    report = await evaluateWithGate(deps, { version: "v2", goldenSet: { name: "page", version: "latest" }, actor: "alice" });
    expect(report.gate?.passed).toBe(false);
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    });
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  });

  it("answers JSON by default and HTML for ?format=html or Accept: text/html, under a CSP of its own nonce and no external source", async () => {
    const json = await fetch(`${stack.url}/v1/evaluations/${report.id}`);
    expect(json.headers.get("content-type")).toMatch(/^application\/json/);
    expect(((await json.json()) as EvaluationReport).id).toBe(report.id);

    for (const response of [await fetch(`${stack.url}/v1/evaluations/${report.id}?format=html`), await fetch(`${stack.url}/v1/evaluations/${report.id}`, { headers: { accept: "text/html,application/xhtml+xml,*/*;q=0.8" } })]) {
      expect(response.status).toBe(200);
      expect(response.headers.get("content-type")).toBe("text/html; charset=utf-8");
      const csp = response.headers.get("content-security-policy") ?? "";
      const nonce = /script-src 'nonce-([^']+)'/.exec(csp)?.[1];
      expect(csp).toMatch(/^default-src 'none'; script-src 'nonce-[^']+'; style-src 'nonce-[^']+'/);
      const html = await response.text();
      expect(html).toContain(`<script nonce="${nonce}">`);
      expect(html).not.toMatch(/<script[^>]*\ssrc=/);
    }
    const bad = await fetch(`${stack.url}/v1/evaluations/${report.id}?format=pdf`);
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/format must be "json" or "html"/);
  });

  it("renders in headless chromium: the verdict shows, every chart has data, no console error, no failed or outside request", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    const problems: string[] = [];
    const requests: string[] = [];
    page.on("console", (message) => {
      if (message.type() === "error" || message.type() === "warning") problems.push(`console ${message.type()}: ${message.text()}`);
    });
    page.on("pageerror", (error) => problems.push(`page error: ${error.message}`));
    page.on("requestfailed", (request) => problems.push(`request failed: ${request.url()} ${request.failure()?.errorText ?? ""}`));
    page.on("request", (request) => requests.push(request.url()));
    page.on("dialog", (dialog) => {
      problems.push(`dialog: ${dialog.message()}`);
      void dialog.dismiss();
    });

    const url = `${stack.url}/v1/evaluations/${report.id}?format=html`;
    const response = await page.goto(url, { waitUntil: "load" });
    expect(response?.status()).toBe(200);

    await expect.poll(() => page.locator("#verdict").innerText()).toMatch(/^Gate FAILED: v2 against live v1/);
    expect(await page.locator("table.rules tr.fail").count()).toBeGreaterThan(0);
    expect(await page.locator("table.rules").innerText()).toMatch(/non-regression\s+ndcg@10/);

    const charts = await page.evaluate(() => {
      // Runs in the page; the tests compile without the DOM lib, so the little used of it is typed here.
      const w = globalThis as unknown as PageGlobals;
      return [...w.document.querySelectorAll("canvas")].map((canvas) => {
        const chart = w.Chart.getChart(canvas);
        return { metric: canvas.dataset.metric, labels: chart?.data.labels ?? [], points: chart?.data.datasets[0]?.data.length ?? 0, drawn: canvas.width > 0 && canvas.height > 0 };
      });
    });
    expect(charts.map((c) => c.metric).sort()).toEqual(Object.keys(report.aggregates).sort());
    for (const chart of charts) {
      expect(chart, chart.metric).toMatchObject({ points: 2, labels: ["live v1", "green v2"], drawn: true });
    }

    // Hostile text from the golden set and the corpus is shown as text, not run.
    const rows = page.locator("table.questions tbody tr");
    expect(await rows.count()).toBe(DOCS.length);
    expect(await page.locator("table.questions").innerText()).toContain("</script><script>alert(1)</script>");
    // Largest regression first: a question whose document green lost.
    expect(Number(await rows.first().locator("td").nth(4).innerText())).toBeLessThan(0);

    await page.screenshot({ path: "/tmp/report.png", fullPage: true });
    expect(problems).toEqual([]);
    expect(requests).toEqual([url]);
    await page.close();
  }, 60_000);

  it("ragops eval report writes the page to a file that renders offline, and --open says so when there is no opener", async () => {
    const dir = mkdtempSync(join(tmpdir(), "ragops-report-"));
    try {
      const out = join(dir, "page.html");
      const env = { ...process.env, RAGOPS_DATA_DIR: stack.config.dataDir, REDIS_URL: stack.config.redis.url, RAGOPS_REDIS_PREFIX: stack.config.redis.prefix, PATH: "/nonexistent" };
      const ran = await new Promise<{ status: number | null; out: string; err: string }>((resolve) => {
        const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "eval", "report", report.id, "--out", out, "--open"], { env });
        let stdout = "";
        let stderr = "";
        child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
        child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
        child.on("exit", (status) => resolve({ status, out: stdout, err: stderr }));
      });
      expect(ran.status, ran.err).toBe(0);
      expect(ran.out.trim()).toBe(out);
      expect(ran.err).toMatch(/could not open it: no (xdg-open|open) on this machine/);

      const page = await browser.newPage();
      const problems: string[] = [];
      const requests: string[] = [];
      page.on("console", (message) => message.type() === "error" && problems.push(message.text()));
      page.on("pageerror", (error) => problems.push(error.message));
      page.on("request", (request) => requests.push(request.url()));
      await page.goto(`file://${out}`, { waitUntil: "load" });
      await expect.poll(() => page.locator("#verdict").innerText()).toMatch(/^Gate FAILED/);
      expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.querySelectorAll("canvas").length)).toBe(Object.keys(report.aggregates).length);
      expect(problems).toEqual([]);
      expect(requests).toEqual([`file://${out}`]);
      expect(readFileSync(out, "utf8")).toContain(report.id);
      await page.close();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
