/**
 * `npm run demo`: the whole product on the embedded defaults, in one process.
 * Starts a Redis when none answers, runs a worker and the control plane,
 * uploads the sample corpus (Markdown, text, PDF, DOCX, HTML) over HTTP, waits
 * for it to be indexed, runs four searches and prints them with heading path
 * and page. Then the gated lifecycle: uploads the golden set, builds a hybrid
 * green v2 (BM25 and dense fused) beside the dense live v1, evaluates both,
 * swaps without force because the gate passed, builds a worse green v3 the gate
 * refuses (the 409 names the rules), rolls back, prints the audit log, and
 * shuts everything down.
 *
 * `runDemo` is the same flow with options: `npm run demo:gcp-emulated`
 * (demo-gcp-emulated.ts) runs it on the gcp profile against the GCS and
 * Vertex emulators, with its greens on Vertex AI Vector Search.
 */
import { mkdir, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import cliProgress from "cli-progress";
import { loadConfig, ConfigError } from "../../config/load.js";
import type { GateConfig } from "../../config/schema.js";
import { ensureRedis, type LocalRedis } from "../dev/local-redis.js";
import { isSupportedFile, resolveContentType } from "../documents/content-types.js";
import { idFromPath } from "../documents/ingest-files.js";
import { errorMessage } from "../../core/errors.js";
import type { EvaluationReport } from "../../indexer/evaluation/run.js";
import { startServer, type RunningServer } from "../http/server.js";
import { newToken } from "../http/tokens.js";
import { openRuntime, type Runtime } from "../runtime.js";
import type { SearchResponse } from "../search.js";
import { startWorkers, type Workers } from "../worker/worker.js";
import { formatDuration, formatEvaluation, formatSearchResults } from "./output.js";

/** The demo makes its own API tokens, one per role, and calls each route with the role it needs (none ships with ragops). */
const DEMO_TOKENS = { reader: newToken(), content: newToken(), operator: newToken() };
const as = (role: keyof typeof DEMO_TOKENS): Record<string, string> => ({ authorization: `Bearer ${DEMO_TOKENS[role].token}` });
const demoTokenEntries = () => Object.fromEntries(Object.entries(DEMO_TOKENS).map(([role, made]) => [`demo-${role}`, { hash: made.hash, roles: [role] }]));

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const corpusDir = join(root, "examples", "corpus");
const goldenFile = join(root, "examples", "golden", "northwind.jsonl");

interface Query {
  question: string;
  expectedFile: string;
}

export interface DemoOptions {
  /** Config on top of the environment's (the emulated demo's profile and endpoints). */
  overrides?: Record<string, unknown>;
  /** Merged into the config of each green version (the emulated demo builds them on Vertex). */
  green?: Record<string, unknown>;
  /** @defaultValue <dataDir>/demo */
  dataDir?: string;
  /** A Redis to use as it is (tests); otherwise the configured one, or one started for the demo. */
  redis?: { url: string; prefix: string };
  /** Shortened (tests): no worse green v3, no report page. */
  short?: boolean;
  /** After the swap, rebuild the green from GCS batch files (a Vertex green with gcp.vectorSearch.stagingUri). */
  rebuildGreen?: boolean;
  /** Printed first: where the demo runs. */
  banner?: string;
  /** Of the sample corpus, the files to upload (tests: a few). @defaultValue all */
  files?: (names: string[]) => string[];
}

/** What the demo did, for tests. */
export interface DemoOutcome {
  indexed: number;
  failed: number;
  firstHits: number;
  queries: number;
  v2Passed: boolean;
  swapped: boolean;
  rolledBack: boolean;
  rebuilt?: { records: number; dataFiles: number };
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoOutcome> {
  const started = Date.now();
  if (options.banner) step(options.banner);
  const base = loadConfig({ overrides: { log: { level: process.env.RAGOPS_LOG_LEVEL ?? "warn" }, ...(options.overrides ?? {}) } });
  const dataDir = options.dataDir ?? join(base.dataDir, "demo");
  let outcome: DemoOutcome = { indexed: 0, failed: 0, firstHits: 0, queries: 0, v2Passed: false, swapped: false, rolledBack: false };
  // A fresh demo every run: the sample corpus, nothing left from the last one.
  await rm(join(dataDir, "objects"), { recursive: true, force: true });
  await rm(join(dataDir, "lancedb"), { recursive: true, force: true });

  let redis: LocalRedis | undefined;
  let runtime: Runtime | undefined;
  let worker: Workers | undefined;
  let server: RunningServer | undefined;
  const shutdown = async () => {
    await server?.close(2_000);
    await worker?.close(5_000);
    await runtime?.queue.obliterate({ force: true }).catch(() => undefined);
    await runtime?.close();
    await redis?.stop();
  };
  process.once("SIGINT", () => void shutdown().finally(() => process.exit(130)));
  process.once("SIGTERM", () => void shutdown().finally(() => process.exit(143)));

  try {
    let redisUrl = options.redis?.url;
    if (!redisUrl) {
      redis = await ensureRedis(base.redis.url, { dir: join(dataDir, "redis") });
      redisUrl = redis.url;
      step(redis.started ? `started redis-server at ${redis.url} (under ${join(dataDir, "redis")}; stopped at the end)` : `using the Redis at ${redis.url}`);
    }
    // Live v1 retrieves dense, as every version did before retrieval modes: the hybrid green v2 shows what BM25 adds.
    const { profile: _profile, ...explicit } = structuredCloneConfig(base);
    const config = loadConfig({ overrides: { ...explicit, ...(options.overrides ?? {}), dataDir, redis: { url: redisUrl, prefix: options.redis?.prefix ?? "ragops-demo" }, http: { port: 0 }, retrieval: { mode: "dense" }, auth: { tokens: demoTokenEntries() } } });
    runtime = await openRuntime(config);
    await runtime.queue.obliterate({ force: true }).catch(() => undefined); // jobs of an interrupted earlier demo
    await forgetEarlierRun(runtime);
    worker = await startWorkers(runtime);
    server = await startServer(runtime);
    step(`control plane on ${server.url}, worker with concurrency ${config.queue.concurrency}, data in ${dataDir}`);
    step(`API tokens made for this run (hashed in its config): demo-reader (searches), demo-content (uploads, jobs), demo-operator (versions, evaluations, swaps)`);
    step(`profile ${config.profile}: objects in ${config.objectStore.provider === "gcs" ? `gs://${config.gcp.bucket}` : "a directory"}, embedder ${config.embedder.provider} (${config.embedder.dimensions} dimensions), live v1 on ${config.index.provider}${options.green ? `, greens ${JSON.stringify(options.green)}` : ""}`);

    const all = (await readdir(corpusDir)).filter(isSupportedFile).sort();
    const files = options.files ? options.files(all) : all;
    const ingestStarted = Date.now();
    const jobs = await uploadAll(server.url, files);
    const outcomes = await waitAll(server.url, jobs);
    const failed = outcomes.filter((o) => o.state !== "completed");
    const chunks = outcomes.reduce((sum, o) => sum + (o.result?.chunks ?? 0), 0);
    step(`indexed ${outcomes.length - failed.length}/${files.length} documents into ${chunks} chunks in ${formatDuration(Date.now() - ingestStarted)}`);
    for (const f of failed) console.log(`  ! ${f.jobId}: ${f.failedReason ?? f.state}`);

    // One question on Markdown, then one each on the PDF, DOCX and HTML documents.
    const queries = [
      ...(JSON.parse(await readFile(join(root, "examples", "queries.json"), "utf8")) as Query[]).slice(0, 1),
      ...(JSON.parse(await readFile(join(root, "examples", "sources", "queries.json"), "utf8")) as Query[]),
    ];
    let firstHits = 0;
    for (const query of queries) {
      const response = await fetch(`${server.url}/v1/search`, { method: "POST", headers: { "content-type": "application/json", ...as("reader") }, body: JSON.stringify({ query: query.question, k: 3 }) });
      const body = (await response.json()) as SearchResponse;
      const hit = body.results[0]?.documentId === idFromPath(query.expectedFile);
      if (hit) firstHits += 1;
      console.log(`\nQ: ${query.question}\n   (index ${body.index}; expected ${query.expectedFile}: ${hit ? "ranked first" : "not first"})`);
      console.log(formatSearchResults(body.results));
    }
    console.log(`\n${firstHits}/${queries.length} questions answered first by the expected document.`);
    if (failed.length > 0 || chunks === 0) process.exitCode = 1;
    const ran = await lifecycle(server.url, queries[0] as Query, config.evaluation.gate, join(dataDir, "reports"), options);
    outcome = { indexed: outcomes.length - failed.length, failed: failed.length, firstHits, queries: queries.length, ...ran };
  } finally {
    await shutdown();
  }
  step(`done in ${formatDuration(Date.now() - started)}; everything shut down cleanly`);
  return outcome;
}

/** Everything an earlier demo left under the demo's Redis prefix (its objects are gone: a lookup naming them would only warn). */
async function forgetEarlierRun(runtime: Runtime): Promise<void> {
  for await (const keys of runtime.redis.scanStream({ match: `${runtime.config.redis.prefix}*`, count: 500 }) as AsyncIterable<string[]>) {
    if (keys.length > 0) await runtime.redis.del(...keys);
  }
}

/** The metrics the demo's table shows (a report holds more: `ragops eval` prints them all). */
const DEMO_METRICS = ["ndcg@10", "recall@10", "mrr", "hit@5", "id_context_recall", "contained_context_recall"];

/** Green v2: hybrid retrieval (BM25 and the embedder's ranking fused by relative score, the default) over the same chunks and vectors as the dense live v1; better on the golden set, so the gate passes it. */
const BETTER_GREEN = { retrieval: { mode: "hybrid" } };

/** Green v3, deliberately worse: dense only, with 64-dimension vectors that crowd unrelated chunks together, so the gate refuses it. */
const WORSE_GREEN = { retrieval: { mode: "dense" }, embedder: { dimensions: 64 } };

type Call = (method: string, path: string, body?: unknown) => Promise<{ status: number; body: Record<string, unknown> & { error?: { message: string } } }>;

/**
 * Blue-green with the gate: upload the golden set, build green v2 beside live
 * v1, evaluate it (live too, on the same questions), swap without force only
 * when the gate passed; then a worse green v3 the gate refuses, a rollback,
 * and the audit log.
 */
async function lifecycle(url: string, query: Query, gate: GateConfig, reportsDir: string, options: DemoOptions): Promise<Pick<DemoOutcome, "v2Passed" | "swapped" | "rolledBack" | "rebuilt">> {
  // The green's own settings win over what options.green adds (its index provider).
  const green = (config: Record<string, unknown>) => ({ ...(options.green ?? {}), ...config });
  console.log("");
  const request: Call = async (method, path, body) => {
    const response = await fetch(`${url}${path}`, { method, headers: { "content-type": "application/json", ...as(path === "/v1/search" ? "reader" : "operator") }, ...(body ? { body: JSON.stringify(body) } : {}) });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: { message: string } } };
  };
  const call = async (method: string, path: string, body?: unknown) => {
    const answer = await request(method, path, body);
    if (answer.status >= 400) throw new Error(`${method} ${path}: ${answer.body.error?.message ?? answer.status}`);
    return answer.body;
  };
  const top = async (index?: string) => {
    const answer = (await call("POST", "/v1/search", { query: query.question, k: 1, ...(index ? { index } : {}) })) as unknown as SearchResponse;
    const hit = answer.results[0];
    return `index ${answer.index}: ${hit?.documentId ?? "-"} › ${hit?.headingPath.join(" › ") ?? ""} (${hit?.score.toFixed(3) ?? "-"})`;
  };

  const golden = await uploadGoldenSet(url);
  step(`uploaded golden set ${golden.name}@${golden.version}: ${golden.questions} questions judged by document id, with reference contexts (examples/golden/northwind.jsonl)`);
  console.log(`  gate (evaluation.gate, the defaults): ${formatGate(gate)}`);

  await build(call, "v2", green(BETTER_GREEN), "hybrid retrieval: BM25 and the dense ranking fused by relative score; live v1 retrieves dense only");
  console.log(`  Q: ${query.question}\n    ${await top()}\n    ${await top("v2")}   (searched directly)`);
  const v2 = await evaluate(call, "v2", golden.name);
  if (!options.short) step(`report page of this evaluation: ${await saveReportPage(url, v2.reportId, reportsDir)} (works offline; \`ragops eval report ${v2.reportId} --open\` writes and opens it)`);
  const swap = await request("POST", "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1" });
  const swapped = v2.passed && swap.status === 200;
  if (swapped) {
    step(`swapped without force (the gate passed): live ${String(swap.body.live)}, previous ${String(swap.body.previous)}`);
    console.log(`    ${await top()}`);
  } else {
    step(`v2 did not pass the gate, so live stays v1; swap without force answered ${swap.status}: ${swap.body.error?.message ?? ""}`);
  }

  let rebuilt: DemoOutcome["rebuilt"];
  if (options.rebuildGreen) {
    const started = Date.now();
    const queued = await call("POST", "/v1/indexes/v2/rebuild");
    const result = (await waitForJob(call, String(queued.rebuildJobId), "rebuilding v2")) as { records: number; dataFiles: number; contentsDeltaUri: string };
    rebuilt = { records: result.records, dataFiles: result.dataFiles };
    step(`rebuilt v2 from batch files: ${result.records} datapoints in ${result.dataFiles} JSON Lines files under ${result.contentsDeltaUri}, one updateIndex (complete overwrite) in ${formatDuration(Date.now() - started)}`);
  }

  const expected = v2.passed ? "v2" : "v1";
  if (!options.short) {
    await build(call, "v3", green(WORSE_GREEN), "deliberately worse: dense only, 64-dimension vectors");
    const v3 = await evaluate(call, "v3", golden.name);
    const refused = await request("POST", "/v1/aliases/live/swap", { to: "v3", expectedVersion: expected });
    if (refused.status === 200) throw new Error(`the gate let the worse green v3 through (${v3.summary})`);
    step(`swap to v3 without force refused, ${refused.status}: ${refused.body.error?.message ?? ""}`);
  }

  let rolledBack = false;
  if (swapped) {
    const back = await call("POST", "/v1/aliases/live/rollback", { expectedVersion: "v2", reason: "demo: back to v1" });
    rolledBack = true;
    step(`rolled back: live ${String(back.live)}, previous ${String(back.previous)}`);
    console.log(`    ${await top()}`);
  }
  const audit = (await call("GET", "/v1/audit?limit=100")) as { entries: Array<{ actor: string; action: string; version?: string; from?: string | null; to?: string | null; reportId?: string }> };
  step("audit log (evaluations and the swap they earned carry the report id):");
  for (const e of audit.entries) console.log(`    ${e.actor.padEnd(17)} ${e.action.padEnd(17)} ${(e.version ?? `${e.from ?? "-"} → ${e.to ?? "-"}`).padEnd(9)} ${e.reportId ?? ""}`.trimEnd());
  return { v2Passed: v2.passed, swapped, rolledBack, ...(rebuilt ? { rebuilt } : {}) };
}

/** Creates a green index version and waits for its build. */
async function build(call: (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>, version: string, config: unknown, what: string): Promise<void> {
  const started = Date.now();
  const created = await call("POST", "/v1/indexes", { version, config });
  await waitForJob(call, String(created.buildJobId), `building ${version}`);
  const record = (await call("GET", `/v1/indexes/${version}`)) as { counts: { documents: number; datapoints: number } };
  step(`built green ${version} beside live (${what}): ${record.counts.documents} documents, ${record.counts.datapoints} datapoints in ${formatDuration(Date.now() - started)}`);
}

/** Evaluates a green on the golden set (the job evaluates live too), prints the short metric table and the gate's verdict. */
async function evaluate(call: (method: string, path: string, body?: unknown) => Promise<Record<string, unknown>>, version: string, goldenSet: string): Promise<{ passed: boolean; summary: string; reportId: string }> {
  const started = Date.now();
  const queued = await call("POST", `/v1/indexes/${version}/evaluations`, { goldenSet });
  const result = (await waitForJob(call, String(queued.jobId), `evaluating ${version}`)) as { reportId: string; passed: boolean; summary: string };
  const report = (await call("GET", `/v1/evaluations/${result.reportId}`)) as unknown as EvaluationReport;
  const live = report.live ? ((await call("GET", `/v1/evaluations/${report.live.reportId}`)) as unknown as EvaluationReport) : undefined;
  step(`evaluated ${version} and live ${live?.version ?? "-"} in ${formatDuration(Date.now() - started)}`);
  console.log(indent(formatEvaluation(report, live, { metrics: DEMO_METRICS })));
  return { passed: report.gate?.passed === true, summary: report.gate?.summary ?? "no gate", reportId: result.reportId };
}

/** Writes the evaluation's HTML report (GET /v1/evaluations/:id?format=html) under the demo's data directory; returns its path. */
async function saveReportPage(url: string, reportId: string, dir: string): Promise<string> {
  const response = await fetch(`${url}/v1/evaluations/${encodeURIComponent(reportId)}?format=html`, { headers: as("operator") });
  if (!response.ok) throw new Error(`GET /v1/evaluations/${reportId}?format=html: ${response.status}`);
  await mkdir(dir, { recursive: true });
  const path = join(dir, `${reportId}.html`);
  await writeFile(path, await response.text());
  return path;
}

async function waitForJob(call: (method: string, path: string) => Promise<Record<string, unknown>>, jobId: string, what: string): Promise<unknown> {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const job = (await call("GET", `/v1/jobs/${jobId}`)) as { state: string; failedReason?: string; result?: unknown };
    if (job.state === "completed") return job.result;
    if (job.state === "failed") throw new Error(`${what} failed: ${job.failedReason}`);
    if (Date.now() > deadline) throw new Error(`${what}: job ${jobId} still ${job.state} after 120 s`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function uploadGoldenSet(url: string): Promise<{ name: string; version: number; questions: number }> {
  const response = await fetch(`${url}/v1/golden-sets?name=northwind`, { method: "POST", headers: { "content-type": "application/x-ndjson", ...as("operator") }, body: await readFile(goldenFile, "utf8") });
  const body = (await response.json()) as { name: string; version: number; questions?: number; error?: { message: string } };
  if (!response.ok) throw new Error(`upload of the golden set failed: ${body.error?.message ?? response.status}`);
  return { name: body.name, version: body.version, questions: body.questions ?? 0 };
}

/** The gate's rules in one line, e.g. `ndcg@10 ≥ 0.3; non-regression ndcg@10 (tolerance 0.01, 95 % CI); tail ndcg@10 (≤ 10 % lose > 0.2)`. */
function formatGate(gate: GateConfig): string {
  const thresholds = Object.entries(gate.thresholds).map(([metric, floor]) => `${metric} ≥ ${floor}`);
  const { nonRegression: nr, tail } = gate;
  return [
    ...thresholds,
    ...(nr.metrics.length ? [`non-regression ${nr.metrics.join(", ")} (tolerance ${nr.tolerance}, ${nr.confidence * 100} % paired CI)`] : []),
    ...(tail.metrics.length ? [`tail ${tail.metrics.join(", ")} (at most ${tail.maxShare * 100} % of questions lose more than ${tail.delta})`] : []),
  ].join("; ");
}

function indent(text: string): string {
  return text.replace(/^/gm, "  ");
}

function step(message: string): void {
  console.log(`» ${message}`);
}

function structuredCloneConfig<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

async function uploadAll(url: string, files: string[]): Promise<string[]> {
  const jobIds: string[] = [];
  for (const file of files) {
    const form = new FormData();
    form.append("file", new Blob([await readFile(join(corpusDir, file))], { type: resolveContentType(file) }), file);
    form.append("tags", "sample");
    const response = await fetch(`${url}/v1/documents/${idFromPath(file)}`, { method: "PUT", headers: as("content"), body: form });
    const body = (await response.json()) as { jobId?: string; error?: { message: string } };
    if (!response.ok || !body.jobId) throw new Error(`upload of ${file} failed: ${body.error?.message ?? response.status}`);
    jobIds.push(body.jobId);
  }
  return jobIds;
}

interface Outcome {
  jobId: string;
  state: string;
  failedReason?: string;
  result?: { chunks?: number };
}

/** Polls the job API like a client would, with a progress bar on a terminal. */
async function waitAll(url: string, jobIds: string[]): Promise<Outcome[]> {
  const bar = process.stdout.isTTY ? new cliProgress.SingleBar({ format: "  indexing [{bar}] {value}/{total} documents", hideCursor: true }, cliProgress.Presets.shades_classic) : undefined;
  bar?.start(jobIds.length, 0);
  const done = new Map<string, Outcome>();
  const deadline = Date.now() + 120_000;
  while (done.size < jobIds.length) {
    for (const jobId of jobIds) {
      if (done.has(jobId)) continue;
      const job = (await (await fetch(`${url}/v1/jobs/${jobId}`, { headers: as("content") })).json()) as Outcome;
      if (job.state === "completed" || job.state === "failed") done.set(jobId, { ...job, jobId });
    }
    bar?.update(done.size);
    if (Date.now() > deadline) throw new Error(`jobs still running after 120 s: ${jobIds.filter((id) => !done.has(id)).join(", ")}`);
    if (done.size < jobIds.length) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  bar?.stop();
  return jobIds.map((id) => done.get(id) as Outcome);
}

/** Runs `demo` as the entry point it is for `npm run demo` (and not when another module imports runDemo). */
export function runAsMain(moduleUrl: string, demo: () => Promise<unknown>): void {
  if (!process.argv[1] || moduleUrl !== pathToFileURL(process.argv[1]).href) return;
  demo().catch((error: unknown) => {
    console.error(`demo failed: ${error instanceof ConfigError ? error.message : errorMessage(error)}`);
    process.exit(1);
  });
}

runAsMain(import.meta.url, () => runDemo());
