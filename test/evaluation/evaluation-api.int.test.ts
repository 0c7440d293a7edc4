import { readFileSync, writeFileSync } from "node:fs";
import { cliRunner } from "../support/cli.js";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateRun, trecMeasures } from "../../indexer/evaluation/metrics.js";
import type { EvaluationReport } from "../../indexer/evaluation/run.js";
import { parseQrels, parseRun } from "../../indexer/evaluation/trec.js";
import { BACKENDS } from "../support/backends.js";
import { putDocument, waitForJob, type Stack } from "../support/stack.js";

const DOCS: Record<string, string> = {
  dock: "# Charging dock\n\nMount the CD-10 charging dock against a solid wall with 1.2 metres of clear floor in front of it.\n",
  battery: "# Battery\n\nReplace the BP-48 battery pack when a full charge lasts less than six hours of picking.\n",
  travel: "# Travel\n\nHotel stays are reimbursed up to 180 EUR per night in high-cost cities with a receipt.\n",
};

const GOLDEN = [
  { id: "q1", question: "charging dock wall", relevantDocuments: ["dock"] },
  { id: "q2", question: "BP-48 battery pack", relevantDocuments: ["battery"] },
  { id: "q3", question: "hotel night receipt", relevantDocuments: ["travel"] },
]
  .map((q) => JSON.stringify(q))
  .join("\n");

const post = async (url: string, path: string, body: unknown) => {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
};

describe.each(BACKENDS)("evaluations over HTTP on $name", (backend) => {
  let stack: Stack;
  let stop: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    ({ stack, stop } = await backend.start());
    for (const [id, text] of Object.entries(DOCS)) await putDocument(stack.url, id, text);
    const uploaded = await fetch(`${stack.url}/v1/golden-sets?name=mini`, { method: "POST", headers: { "content-type": "application/x-ndjson" }, body: GOLDEN });
    expect(uploaded.status).toBe(201);
  }, 120_000);

  afterAll(async () => {
    await stop();
  });

  it("queues an evaluation job with progress, then serves its report and its TREC run, which scores the same", async () => {
    const queued = await post(stack.url, "/v1/indexes/v1/evaluations", { goldenSet: "mini", k: 5 });
    expect(queued).toMatchObject({ status: 202, body: { version: "v1", goldenSet: { name: "mini", version: 1 }, k: 5, links: { job: `/v1/jobs/${queued.body.jobId}` } } });
    const job = (await waitForJob(stack.url, String(queued.body.jobId))) as { state: string; failedReason?: string; result: { reportId: string; links: { report: string; run: string } }; progress: unknown };
    expect(job.state, job.failedReason).toBe("completed");
    expect(job.progress).toMatchObject({ percent: 100, detail: "3/3 questions" });

    const response = await fetch(`${stack.url}${job.result.links.report}`);
    expect(response.status).toBe(200);
    const report = (await response.json()) as EvaluationReport;
    expect(report).toMatchObject({ id: job.result.reportId, version: "v1", k: 5, goldenSet: { name: "mini", version: 1 } });
    expect(report.gate).toBeUndefined();

    const run = await fetch(`${stack.url}${job.result.links.run}`);
    expect(run.headers.get("content-type")).toMatch(/^text\/plain/);
    const qrels = await (await fetch(`${stack.url}/v1/evaluations/${report.id}/qrels.txt`)).text();
    const scored = evaluateRun(parseQrels(qrels), parseRun(await run.text()).queries, { cutoffs: report.cutoffs, completeQueries: true });
    for (const { qid, metrics } of scored.queries) {
      const row = report.questions.find((q) => q.id === qid);
      expect(row?.metrics["ndcg@10"], qid).toBe(trecMeasures(metrics).get("ndcg_cut_10"));
      expect(row?.metrics.map, qid).toBe(metrics.map);
    }
  }, 120_000);

  it("evaluates a green against live and returns the gate's verdict in the job's result", async () => {
    const created = await post(stack.url, "/v1/indexes", { version: "v2" });
    expect((await waitForJob(stack.url, String(created.body.buildJobId))).state).toBe("completed");
    const queued = await post(stack.url, "/v1/indexes/v2/evaluations", { goldenSet: "mini@1" });
    expect(queued.status).toBe(202);
    const job = (await waitForJob(stack.url, String(queued.body.jobId))) as { state: string; result: { reportId: string; passed: boolean; summary: string } };
    expect(job.result).toMatchObject({ passed: true, summary: expect.stringMatching(/^passed/) });
    const report = (await (await fetch(`${stack.url}/v1/evaluations/${job.result.reportId}`)).json()) as EvaluationReport;
    expect(report.live).toMatchObject({ version: "v1" });
    expect(report.gate?.rules.map((r) => r.rule)).toEqual(["threshold", "non-regression", "tail"]);
    expect(((await (await fetch(`${stack.url}/v1/indexes/v2`)).json()) as { state: string }).state).toBe("evaluated");
  }, 120_000);

  it("answers 404 for an unknown report, index version or golden set, and 400 for a k above evaluation.maxTopK", async () => {
    expect((await fetch(`${stack.url}/v1/evaluations/nope`)).status).toBe(404);
    expect((await fetch(`${stack.url}/v1/evaluations/nope/run.txt`)).status).toBe(404);
    expect((await post(stack.url, "/v1/indexes/v9/evaluations", { goldenSet: "mini" })).status).toBe(404);
    const missingSet = await post(stack.url, "/v1/indexes/v1/evaluations", { goldenSet: "absent" });
    expect(missingSet.status).toBe(404);
    expect((await post(stack.url, "/v1/indexes/v1/evaluations", { goldenSet: "mini@7" })).status).toBe(404);
    const tooDeep = await post(stack.url, "/v1/indexes/v1/evaluations", { goldenSet: "mini", k: stack.config.evaluation.maxTopK + 1 });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.error?.message).toMatch(/evaluation\.maxTopK/);
  });

  it("runs from the CLI: ragops eval prints the metric table with CIs against live and the gate's verdict, and writes the TREC run", async () => {
    // The stack's own config (its object store and index providers, the emulators' endpoints), as a file the CLI reads.
    const configFile = join(stack.config.dataDir, "cli-config.json");
    writeFileSync(configFile, JSON.stringify(stack.config));
    const env = { ...process.env, RAGOPS_CONFIG: configFile };
    const cli = cliRunner(env);
    const trecOut = join(stack.config.dataDir, "cli-run.txt");
    const ran = await cli("eval", "v2", "--golden", "mini", "--k", "10", "--trec-out", trecOut);
    expect(ran.status, ran.err).toBe(0);
    expect(ran.out).toMatch(/evaluation (\S+): v2 \(hybrid\) on golden set mini@1 \(3 questions, judged by document, k = 10\)/);
    // metric | live mean [CI] | green mean [CI] | Δ | n
    expect(ran.out).toMatch(/ndcg@10\s+│ \d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]\s+│ \d\.\d{4} \[\d\.\d{4}, \d\.\d{4}\]\s+│ \+0\.0000\s+│ 3\s+│/);
    expect(ran.out).toMatch(/gate: passed: 3 of 3 rules/);
    const reportId = /evaluation (\S+):/.exec(ran.out)?.[1] as string;
    const served = await (await fetch(`${stack.url}/v1/evaluations/${reportId}/run.txt`)).text();
    expect(readFileSync(trecOut, "utf8")).toBe(served);

    const queued = await cli("eval", "v1", "--golden", "mini@1", "--json");
    expect(queued.status, queued.err).toBe(0);
    const { jobId } = JSON.parse(queued.out) as { jobId: string };
    expect((await waitForJob(stack.url, jobId)).state).toBe("completed");

    const unknown = await cli("eval", "v2", "--golden", "absent");
    expect(unknown.status).toBe(1);
    expect(unknown.err).toMatch(/golden set absent does not exist/);
  }, 120_000);
});
