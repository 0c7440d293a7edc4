/**
 * `npm run demo`: the whole product on the embedded defaults, in one process.
 * Starts a Redis when none answers, runs a worker and the control plane,
 * uploads the sample corpus (Markdown, text, PDF, DOCX, HTML) over HTTP, waits
 * for it to be indexed, runs four searches and prints them with heading path
 * and page, builds a green index version beside the live one, swaps to it and
 * rolls back, then shuts everything down.
 */
import { readFile, readdir, rm } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import cliProgress from "cli-progress";
import { loadConfig, ConfigError } from "../../config/load.js";
import { ensureRedis, type LocalRedis } from "../dev/local-redis.js";
import { isSupportedFile, resolveContentType } from "../documents/content-types.js";
import { idFromPath } from "../documents/ingest-files.js";
import { errorMessage } from "../../core/errors.js";
import { startServer, type RunningServer } from "../http/server.js";
import { openRuntime, type Runtime } from "../runtime.js";
import type { SearchResponse } from "../search.js";
import { startWorkers, type Workers } from "../worker/worker.js";
import { formatDuration, formatSearchResults } from "./output.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const corpusDir = join(root, "examples", "corpus");

interface Query {
  question: string;
  expectedFile: string;
}

async function main(): Promise<void> {
  const started = Date.now();
  const base = loadConfig({ overrides: { log: { level: process.env.RAGOPS_LOG_LEVEL ?? "warn" } } });
  const dataDir = join(base.dataDir, "demo");
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
    redis = await ensureRedis(base.redis.url, { dir: join(dataDir, "redis") });
    step(redis.started ? `started redis-server at ${redis.url} (under ${join(dataDir, "redis")}; stopped at the end)` : `using the Redis at ${redis.url}`);
    const config = loadConfig({ overrides: { ...structuredCloneConfig(base), dataDir, redis: { url: redis.url, prefix: "ragops-demo" }, http: { port: 0 } } });
    runtime = await openRuntime(config);
    await runtime.queue.obliterate({ force: true }).catch(() => undefined); // jobs of an interrupted earlier demo
    worker = await startWorkers(runtime);
    server = await startServer(runtime);
    step(`control plane on ${server.url}, worker with concurrency ${config.queue.concurrency}, data in ${dataDir}`);

    const files = (await readdir(corpusDir)).filter(isSupportedFile).sort();
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
      const response = await fetch(`${server.url}/v1/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query: query.question, k: 3 }) });
      const body = (await response.json()) as SearchResponse;
      const hit = body.results[0]?.documentId === idFromPath(query.expectedFile);
      if (hit) firstHits += 1;
      console.log(`\nQ: ${query.question}\n   (index ${body.index}; expected ${query.expectedFile}: ${hit ? "ranked first" : "not first"})`);
      console.log(formatSearchResults(body.results));
    }
    console.log(`\n${firstHits}/${queries.length} questions answered first by the expected document.`);
    if (failed.length > 0 || chunks === 0) process.exitCode = 1;
    await lifecycle(server.url, queries[0] as Query);
  } finally {
    await shutdown();
  }
  step(`done in ${formatDuration(Date.now() - started)}; everything shut down cleanly`);
}

/** Blue-green: build v2 with other chunking beside live v1, search both, swap, roll back, show the audit log. */
async function lifecycle(url: string, query: Query): Promise<void> {
  console.log("");
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, { method, headers: { "content-type": "application/json", "x-ragops-actor": "demo" }, ...(body ? { body: JSON.stringify(body) } : {}) });
    const json = (await response.json()) as Record<string, unknown> & { error?: { message: string } };
    if (!response.ok) throw new Error(`${method} ${path}: ${json.error?.message ?? response.status}`);
    return json;
  };
  const top = async (index?: string) => {
    const answer = (await call("POST", "/v1/search", { query: query.question, k: 1, ...(index ? { index } : {}) })) as unknown as SearchResponse;
    const hit = answer.results[0];
    return `index ${answer.index}: ${hit?.documentId ?? "-"} › ${hit?.headingPath.join(" › ") ?? ""} (${hit?.score.toFixed(3) ?? "-"})`;
  };
  const started = Date.now();
  const created = await call("POST", "/v1/indexes", { version: "v2", config: { chunking: { sizeTokens: 300 }, embedder: { dimensions: 256 } } });
  const job = String(created.buildJobId);
  for (;;) {
    const state = (await call("GET", `/v1/jobs/${job}`)) as { state: string; failedReason?: string };
    if (state.state === "completed") break;
    if (state.state === "failed") throw new Error(`building v2 failed: ${state.failedReason}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  const v2 = (await call("GET", "/v1/indexes/v2")) as { counts: { documents: number; datapoints: number } };
  step(`built green v2 beside live v1 (300-token chunks, 256 dimensions): ${v2.counts.documents} documents, ${v2.counts.datapoints} datapoints in ${formatDuration(Date.now() - started)}`);
  console.log(`  Q: ${query.question}\n    ${await top()}\n    ${await top("v2")}   (searched directly)`);
  const swapped = await call("POST", "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1", force: true, reason: "demo: try smaller chunks" });
  step(`swapped: live ${swapped.live}, previous ${swapped.previous} (forced: no evaluation yet; the audit log says so)`);
  console.log(`    ${await top()}`);
  const rolledBack = await call("POST", "/v1/aliases/live/rollback", { expectedVersion: "v2", reason: "demo: back to v1" });
  step(`rolled back: live ${rolledBack.live}, previous ${rolledBack.previous}`);
  console.log(`    ${await top()}`);
  const audit = (await call("GET", "/v1/audit?limit=100")) as { entries: Array<{ actor: string; action: string; version?: string; from?: string | null; to?: string | null }> };
  step("audit log:");
  for (const e of audit.entries) console.log(`    ${e.actor.padEnd(17)} ${e.action.padEnd(17)} ${e.version ?? `${e.from ?? "-"} → ${e.to ?? "-"}`}`);
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
    const response = await fetch(`${url}/v1/documents/${idFromPath(file)}`, { method: "PUT", body: form });
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
      const job = (await (await fetch(`${url}/v1/jobs/${jobId}`)).json()) as Outcome;
      if (job.state === "completed" || job.state === "failed") done.set(jobId, { ...job, jobId });
    }
    bar?.update(done.size);
    if (Date.now() > deadline) throw new Error(`jobs still running after 120 s: ${jobIds.filter((id) => !done.has(id)).join(", ")}`);
    if (done.size < jobIds.length) await new Promise((resolve) => setTimeout(resolve, 100));
  }
  bar?.stop();
  return jobIds.map((id) => done.get(id) as Outcome);
}

main().catch((error: unknown) => {
  console.error(`demo failed: ${error instanceof ConfigError ? error.message : errorMessage(error)}`);
  process.exit(1);
});
