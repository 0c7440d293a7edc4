/**
 * npm run bench:load
 *
 * A bounded load test on 127.0.0.1 (issue 15): `ragops serve` and two
 * `ragops worker` processes over the shared corpus (ingested first), then for
 * LOAD_SECONDS at once:
 *   - uploads: small Markdown documents PUT at a fixed rate (LOAD_UPLOADS_PER_S,
 *     open loop: arrivals do not wait for answers, as content teams do not),
 *     one in five replacing a document uploaded earlier in the run;
 *   - searches: LOAD_SEARCH_CONNECTIONS connections (closed loop, autocannon)
 *     of questions cut from the corpus.
 * Measured: throughput, p50 / p95 / p99 and errors of both; queue lag (upload
 * accepted → its job completed, so searchable); queue depth and the RSS of
 * every process over time. After the load: how long the queue takes to drain,
 * `ragops reconcile` over what was written (it must find nothing), and the
 * fault suite's summary (`npm run test:faults`; LOAD_FAULTS=0 skips it).
 *
 * Rate limits are switched off for the run: it measures capacity, not the
 * limiter (one address sends everything).
 *
 * Knobs: LOAD_SECONDS=60  LOAD_UPLOADS_PER_S=4  LOAD_SEARCH_CONNECTIONS=10  LOAD_FAULTS=1
 * LOAD_SERVER_NODE_ARGS (node flags for the control plane, e.g. --cpu-prof)
 * LOAD_ROW_LINEAGE=0 (index.rowLineage off, as tables made before it was the default: searches during ingest fall back to LanceDB)
 */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { loadConfig } from "../config/load.js";
import { createIngestQueue, createIngestQueueEvents } from "../src/queues/ingest-queue.js";
import { ensureRedis } from "../src/dev/local-redis.js";
import { generateCorpus, mulberry32, type CorpusDoc } from "./corpus.mjs";
import { printTable, writeResults, waitForReady, corpusQuestions, exited, percentile } from "./machine.js";

const SECONDS = Number(process.env.LOAD_SECONDS ?? 60);
const UPLOADS_PER_S = Number(process.env.LOAD_UPLOADS_PER_S ?? 4);
const SEARCH_CONNECTIONS = Number(process.env.LOAD_SEARCH_CONNECTIONS ?? 10);
const FAULTS = process.env.LOAD_FAULTS !== "0";
const ROW_LINEAGE = process.env.LOAD_ROW_LINEAGE !== "0";
/** Extra node flags for the control plane, e.g. `--cpu-prof --cpu-prof-dir=/tmp/prof` to see where its time goes. */
const SERVER_NODE_ARGS = (process.env.LOAD_SERVER_NODE_ARGS ?? "").split(" ").filter(Boolean);
const SAMPLE_MS = 2_000;
const DRAIN_LIMIT_MS = 300_000;
/** Uploads still unanswered past this many are counted as refused by the load generator, so a stalled server cannot grow it without bound. */
const MAX_UPLOADS_IN_FLIGHT = 64;

const round = (n: number, places = 1) => Number(n.toFixed(places));

interface Latencies {
  count: number;
  perSecond: number;
  p50: number;
  p95: number;
  p99: number;
  max: number;
}

function summarizeLatencies(values: number[], seconds: number): Latencies {
  const sorted = [...values].sort((a, b) => a - b);
  return { count: sorted.length, perSecond: round(sorted.length / seconds), p50: round(percentile(sorted, 50)), p95: round(percentile(sorted, 95)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? 0) };
}

/** Resident memory of a process and its descendants (a worker's parse processes count against it), MB. */
function treeRssMb(pid: number): number {
  const rssOf = (id: number) => {
    try {
      const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${id}/status`, "utf8"));
      return match ? Number(match[1]) / 1024 : 0;
    } catch {
      return 0; // exited between the listing and the read
    }
  };
  const childrenOf = (id: number): number[] => {
    try {
      return readdirSync(`/proc/${id}/task`).flatMap((task) => {
        const file = `/proc/${id}/task/${task}/children`;
        return existsSync(file) ? readFileSync(file, "utf8").trim().split(/\s+/).filter(Boolean).map(Number) : [];
      });
    } catch {
      return [];
    }
  };
  const walk = (id: number): number => rssOf(id) + childrenOf(id).reduce((sum, child) => sum + walk(child), 0);
  return Math.round(walk(pid));
}

/** Small documents (a title and 3-6 paragraphs taken from the corpus, about 1-3 KB), each different. */
function smallDocuments(docs: readonly CorpusDoc[]): (n: number) => string {
  const random = mulberry32(7);
  const paragraphs = docs.flatMap((doc) => doc.text.split(/\n{2,}/).filter((p) => p.length > 120 && !p.startsWith("#")));
  return (n) => {
    const count = 3 + Math.floor(random() * 4);
    const body = Array.from({ length: count }, () => paragraphs[Math.floor(random() * paragraphs.length)]).join("\n\n");
    return `# Load note ${n}\n\nUploaded by the load test as note ${n}.\n\n${body}\n`;
  };
}

interface Sample {
  second: number;
  waiting: number;
  active: number;
  delayed: number;
  rssMb: Record<string, number>;
  /** Reads of the live index (a search makes two: term statistics and the query) since the last sample, by what answered them: its snapshot, the snapshot caught up with later writes, or LanceDB. */
  answered: { snapshot: number; caughtUp: number; lancedb: number };
}

/** One sample per `every` (the last of each group), with the searches of the whole group. */
function groupSamples(samples: readonly Sample[], every: number): Sample[] {
  const groups: Sample[] = [];
  for (let i = 0; i < samples.length; i += every) {
    const group = samples.slice(i, i + every);
    const last = group[group.length - 1] as Sample;
    const answered = { snapshot: 0, caughtUp: 0, lancedb: 0 };
    for (const s of group) for (const key of Object.keys(answered) as Array<keyof typeof answered>) answered[key] += s.answered[key];
    groups.push({ ...last, answered });
  }
  return groups;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "ragops-bench-load-"));
  const children: ChildProcess[] = [];
  try {
    const redis = await ensureRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:1", { dir: join(root, "redis"), preferUrlPort: false });
    const port = 19_000 + Math.floor(Math.random() * 1000);
    const settings = {
      dataDir: join(root, "data"),
      redis: { url: redis.url, prefix: `load${process.pid}` },
      http: { port },
      log: { level: "warn" },
      limits: { rate: { searchPerToken: 0, searchPerAddress: 0, uploadsPerToken: 0, uploadsPerAddress: 0 } },
      // Searches during ingest answer from the caught-up snapshot only on tables with row lineage (the default; LOAD_ROW_LINEAGE=0 measures a table without).
      index: { rowLineage: ROW_LINEAGE },
    };
    const configFile = join(root, "ragops.json");
    writeFileSync(configFile, JSON.stringify(settings));
    const config = loadConfig({ file: configFile, env: {} });
    const env = { ...process.env, RAGOPS_CONFIG: configFile };
    const ragops = (args: string[], stdout: "inherit" | "pipe" | "ignore" = "inherit", stderr: "inherit" | "pipe" = "inherit") =>
      spawn(process.execPath, [...(args[0] === "serve" ? SERVER_NODE_ARGS : []), "--import", "tsx", "src/cli/main.ts", ...args], { env, stdio: ["ignore", stdout, stderr] });

    const docs = generateCorpus();
    const folder = join(root, "corpus");
    mkdirSync(folder);
    for (const doc of docs) writeFileSync(join(folder, `${doc.id}.md`), doc.text);
    process.stderr.write(`bench:load: ingesting the shared corpus (${docs.length} documents)…\n`);
    const seeded = await exited(ragops(["ingest", folder], "ignore"));
    if (seeded !== 0) throw new Error(`ragops ingest exited ${seeded}`);

    const server = ragops(["serve"]);
    const workers = [ragops(["worker"], "inherit", "pipe"), ragops(["worker"], "inherit", "pipe")];
    children.push(server, ...workers);
    const base = `http://127.0.0.1:${port}`;
    await Promise.all([waitForReady(`${base}/readyz`, server), ...workers.map((worker) => waitForLine(worker, /worker running/))]);
    const processes: Record<string, number> = { server: server.pid as number, "worker 1": workers[0]?.pid as number, "worker 2": workers[1]?.pid as number };
    const redisPid = await redisProcessId(redis.url);
    if (redisPid) processes.redis = redisPid;

    const queue = createIngestQueue(config);
    const events = await createIngestQueueEvents(config);
    const accepted = new Map<string, number>();
    const settled = new Map<string, { at: number; failed?: string }>();
    const lags: number[] = [];
    const failedJobs: string[] = [];
    const noteSettled = (jobId: string, failed?: string) => {
      settled.set(jobId, { at: Date.now(), ...(failed ? { failed } : {}) });
      matchLag(jobId);
    };
    const matchLag = (jobId: string) => {
      const start = accepted.get(jobId);
      const end = settled.get(jobId);
      if (start === undefined || !end) return;
      lags.push(end.at - start);
      if (end.failed) failedJobs.push(`${jobId}: ${end.failed}`);
    };
    events.on("completed", ({ jobId }) => noteSettled(jobId));
    events.on("failed", ({ jobId, failedReason }) => noteSettled(jobId, failedReason));

    const questions = corpusQuestions(docs, 500);
    const nextDocument = smallDocuments(docs);
    const uploadLatencies: number[] = [];
    const uploadErrors = new Map<string, number>();
    const countError = (kind: string): void => void uploadErrors.set(kind, (uploadErrors.get(kind) ?? 0) + 1);
    let inFlight = 0;
    let uploaded = 0;
    const upload = async (n: number) => {
      const replace = n > 10 && n % 5 === 0;
      const id = `load-${replace ? Math.floor(n / 2) : n}`;
      const form = new FormData();
      form.append("file", new Blob([nextDocument(n)], { type: "text/markdown" }), `${id}.md`);
      const started = performance.now();
      inFlight++;
      try {
        const response = await fetch(`${base}/v1/documents/${id}`, { method: "PUT", body: form });
        const body = (await response.json()) as { jobId?: string };
        uploadLatencies.push(performance.now() - started);
        if (response.status !== 202 || !body.jobId) return countError(String(response.status));
        accepted.set(body.jobId, Date.now());
        matchLag(body.jobId);
      } catch (error) {
        countError((error as Error).message);
      } finally {
        inFlight--;
      }
    };

    const samples: Sample[] = [];
    const started = Date.now();
    let answeredBefore = { snapshot: 0, caughtUp: 0, lancedb: 0 };
    const sample = async () => {
      const second = Math.round((Date.now() - started) / 1000);
      const counts = await queue.getJobCounts("waiting", "active", "delayed", "prioritized");
      const rssMb: Record<string, number> = {};
      for (const [name, pid] of Object.entries(processes)) rssMb[name] = treeRssMb(pid);
      const shown = (await (await fetch(`${base}/v1/indexes/${config.index.version}`)).json().catch(() => ({}))) as { index?: { searchPath?: { answered?: typeof answeredBefore } } };
      const answered = shown.index?.searchPath?.answered ?? answeredBefore;
      samples.push({
        answered: { snapshot: answered.snapshot - answeredBefore.snapshot, caughtUp: answered.caughtUp - answeredBefore.caughtUp, lancedb: answered.lancedb - answeredBefore.lancedb },
        second, waiting: (counts.waiting ?? 0) + (counts.prioritized ?? 0), active: counts.active ?? 0, delayed: counts.delayed ?? 0, rssMb });
      answeredBefore = answered;
    };
    await sample();
    const sampler = setInterval(() => void sample(), SAMPLE_MS);
    process.stderr.write(`bench:load: ${SECONDS} s of ${UPLOADS_PER_S} uploads/s and searches on ${SEARCH_CONNECTIONS} connections…\n`);
    const uploads: Array<Promise<void>> = [];
    let n = 0;
    const arrivals = setInterval(() => {
      n++;
      if (inFlight >= MAX_UPLOADS_IN_FLIGHT) return countError("not sent: too many in flight");
      uploaded++;
      uploads.push(upload(n));
    }, 1000 / UPLOADS_PER_S);
    const searchLatencies: number[] = [];
    const statuses = new Map<number, number>();
    const searching = autocannon({
      url: base,
      connections: SEARCH_CONNECTIONS,
      duration: SECONDS,
      requests: questions.map((query) => ({ method: "POST" as const, path: "/v1/search", headers: { "content-type": "application/json" }, body: JSON.stringify({ query, k: 10 }) })),
    }) as unknown as autocannon.Instance & Promise<autocannon.Result>;
    searching.on("response", (_client: unknown, status: number, _bytes: number, responseTime: number) => {
      searchLatencies.push(responseTime);
      statuses.set(status, (statuses.get(status) ?? 0) + 1);
    });
    const searchResult = await searching;
    if (process.env.LOAD_DEBUG) console.error(JSON.stringify({ ...searchResult, latency: undefined, requests: searchResult.requests, errors: searchResult.errors, non2xx: searchResult.non2xx }));
    clearInterval(arrivals);
    await Promise.all(uploads);
    const loadEnded = Date.now();

    process.stderr.write(`bench:load: load over; waiting for the queue to drain (${accepted.size - [...accepted.keys()].filter((id) => settled.has(id)).length} jobs left)…\n`);
    while ([...accepted.keys()].some((id) => !settled.has(id)) && Date.now() - loadEnded < DRAIN_LIMIT_MS) await new Promise((resolve) => setTimeout(resolve, 250));
    const drainSeconds = round((Date.now() - loadEnded) / 1000);
    const unsettled = [...accepted.keys()].filter((id) => !settled.has(id)).length;
    clearInterval(sampler);
    await sample();
    await events.close();
    await queue.close();

    const reconcile = ragops(["reconcile", "--json"], "pipe");
    let reconcileOut = "";
    reconcile.stdout?.on("data", (chunk: Buffer) => (reconcileOut += chunk.toString()));
    const reconcileCode = await exited(reconcile);
    const report = JSON.parse(reconcileOut || "{}") as { clean?: boolean; counts?: Record<string, number> };

    for (const child of children) child.kill("SIGTERM");
    await Promise.all(children.map(exited));
    children.length = 0;
    await redis.stop();

    const searchNon2xx = [...statuses].filter(([status]) => status < 200 || status >= 300).reduce((sum, [, count]) => sum + count, 0);
    const search = { ...summarizeLatencies(searchLatencies, SECONDS), errors: searchResult.errors + searchResult.timeouts + searchNon2xx, statuses: Object.fromEntries(statuses) };
    const uploadsFigures = { sent: uploaded, ...summarizeLatencies(uploadLatencies, SECONDS), accepted: accepted.size, errors: Object.fromEntries(uploadErrors) };
    const lag = { ...summarizeLatencies(lags, SECONDS), failed: failedJobs.length, failures: failedJobs.slice(0, 10), unsettledAfterDrain: unsettled };
    const peakRssMb = Object.fromEntries(Object.keys(processes).map((name) => [name, Math.max(...samples.map((s) => s.rssMb[name] ?? 0))]));

    console.log(`\nbench:load — ${SECONDS} s, ${UPLOADS_PER_S} uploads/s offered, searches on ${SEARCH_CONNECTIONS} connections, 2 workers, on 127.0.0.1\n`);
    printTable(
      ["traffic", "requests", "per s", "p50 ms", "p95 ms", "p99 ms", "max ms", "errors"],
      [
        ["search (POST /v1/search)", search.count, search.perSecond, search.p50, search.p95, search.p99, search.max, search.errors],
        ["upload (PUT /v1/documents/:id)", uploadsFigures.count, uploadsFigures.perSecond, uploadsFigures.p50, uploadsFigures.p95, uploadsFigures.p99, uploadsFigures.max, Object.values(uploadErrors).reduce((a, b) => a + b, 0)],
        ["queue lag (accepted → indexed)", lag.count, lag.perSecond, lag.p50, lag.p95, lag.p99, lag.max, lag.failed],
      ],
    );
    console.log(`queue drained ${drainSeconds} s after the load (${unsettled} jobs unsettled); reconcile: ${report.clean ? "clean" : `NOT clean ${JSON.stringify(report.counts)}`} (exit ${reconcileCode})\n`);
    const names = Object.keys(processes);
    const every = Math.max(1, Math.round(samples.length / 12));
    printTable(
      ["second", "index reads: snapshot / caught up / lancedb", "waiting", "active", "delayed", ...names.map((name) => `${name} RSS MB`)],
      groupSamples(samples, every).map((s) => [s.second, `${s.answered.snapshot} / ${s.answered.caughtUp} / ${s.answered.lancedb}`, s.waiting, s.active, s.delayed, ...names.map((name) => s.rssMb[name] ?? 0)]),
    );

    const faults = FAULTS ? runFaultSuite() : undefined;
    if (faults) console.log(`\n${faults.summary}\n(fault suite exit ${faults.code}, ${faults.seconds} s)`);
    const path = writeResults("load", {
      command: "npm run bench:load",
      settings: { seconds: SECONDS, uploadsPerSecond: UPLOADS_PER_S, searchConnections: SEARCH_CONNECTIONS, workers: 2, rateLimits: "off", rowLineage: ROW_LINEAGE },
      search,
      uploads: uploadsFigures,
      queueLag: lag,
      drainSeconds,
      reconcile: { clean: report.clean === true, exitCode: reconcileCode, counts: report.counts },
      peakRssMb,
      samples,
      faultSuite: faults,
    });
    console.log(`figures written to ${path}`);
    if (!report.clean || unsettled > 0 || (faults && faults.code !== 0)) process.exitCode = 1;
  } finally {
    for (const child of children) child.kill("SIGKILL");
    rmSync(root, { recursive: true, force: true });
  }
}

async function redisProcessId(url: string): Promise<number | undefined> {
  const client = new Redis(url, { maxRetriesPerRequest: 1 });
  try {
    const match = /^process_id:(\d+)/m.exec(await client.info("server"));
    return match ? Number(match[1]) : undefined;
  } finally {
    client.disconnect();
  }
}

/** `npm run test:faults`, keeping the summary block it prints. */
function runFaultSuite(): { code: number | null; seconds: number; summary: string } {
  process.stderr.write("bench:load: running the fault suite…\n");
  const began = Date.now();
  const run = spawnSync("npx", ["vitest", "run", "-c", "vitest.faults.config.ts"], { encoding: "utf8", env: { ...process.env, FORCE_COLOR: "0" }, maxBuffer: 64 * 2 ** 20 });
  const output = `${run.stdout}\n${run.stderr}`;
  const start = output.indexOf("fault suite summary");
  const summary = start < 0 ? "(no summary printed)" : output.slice(start, output.indexOf("\n\n", start) < 0 ? undefined : output.indexOf("\n\n", start));
  return { code: run.status, seconds: round((Date.now() - began) / 1000), summary };
}


/** Resolves on the first stderr line of `child` matching `pattern` (its readiness line); rejects if it exits first. */
function waitForLine(child: ChildProcess, pattern: RegExp): Promise<void> {
  return new Promise((resolve, reject) => {
    let seen = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      if (pattern.test(seen)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`a worker exited (${code}) before it was ready:\n${seen}`)));
  });
}

await main();
