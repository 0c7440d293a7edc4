/**
 * npm run bench:search
 *
 * a. Synthetic tables of SEARCH_SIZES rows (10,000 and 100,000 by default;
 *    add 1000000 for the largest: about 1.5 GB of vectors and a long index
 *    build) of clustered 384-d unit vectors, written through ragops' LanceDB
 *    adapter, which builds its ANN index (HNSW-SQ) in the background past
 *    index.annMinRows. 200 questions of two kinds: "dense" (every dimension
 *    non-zero, as a model's embedding) and "offline" (about 20 non-zero
 *    dimensions, as the offline embedder's questions). In this process, for
 *    each: p50 / p99 latency of ragops' path (exact snapshot or ANN, as the
 *    adapter chooses), of the exact snapshot alone, and of the peers: LanceDB's
 *    flat search (the path before the snapshot) and raw LanceDB with the same
 *    index (the floor of the engine); recall@10 against the exact answer;
 *    index build time; RSS.
 * b. The shared corpus through the HTTP API: `ragops ingest` of the 200
 *    documents, then `ragops serve`, and POST /v1/search with questions cut
 *    from the corpus at 1 and 10 connections (autocannon, SEARCH_SECONDS each),
 *    then 50 connections while the server's peak RSS is read.
 *
 *    The server runs compiled (npm run build, then node bin/ragops.js, as the
 *    Dockerfile runs it). Each with `ragops serve --processes` 1 and 2 (SEARCH_PROCESSES), reporting
 *    the server's CPU per search and its processes' peak RSS summed.
 *    SEARCH_AUTH=1 adds a run of one process as a deployment with API tokens runs: a token on every
 *    request and both search rate limits counted (set high enough never to refuse), so each search
 *    also costs the token's and the address's counts in Redis.
 * c. Text (BM25) questions past the snapshot: SEARCH_TEXT_ROWS paragraphs of the generated corpus
 *    (100,000) as text datapoints, 200 questions cut from them (6-10 words), each weighted by the
 *    table's own statistics. p50 / p99 of ragops' path past index.memoryScanMaxRows (candidates from
 *    the full-text index, scored exactly), of the same without the index (the terms pushed down to
 *    a scan of the table), of the exact snapshot in memory (the path up to the limit), and of the
 *    peer: LanceDB's own full-text search on the same index (its BM25, not ours: the floor);
 *    recall@10 of each against the exact answer; index build time; term statistics' cost.
 * Knobs: SEARCH_SIZES=10000,100000  SEARCH_SECONDS=10  SEARCH_HTTP=0 skips (b)  SEARCH_PROCESSES=1,2  SEARCH_AUTH=1
 *        SEARCH_TEXT_ROWS=100000 (0 skips (c))
 *        SEARCH_SERVER_PROF=<dir>  the server writes a CPU profile there (open it in Chrome DevTools).
 */
import { spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { createLanceDbIndex, DEFAULT_MEMORY_SCAN_MAX_ROWS, recallAt10, type LanceDbIndex } from "../indexer/indexes/lancedb.js";
import type { Datapoint, Neighbor, SparseVector } from "../indexer/indexes/vector-index.js";
import { countTerms } from "../indexer/sparse/analyze.js";
import { queryVector } from "../indexer/sparse/bm25.js";
import { corpusDatapoints } from "./corpus-datapoints.js";
import { ensureRedis } from "../src/dev/local-redis.js";
import { generateCorpus, mulberry32 } from "./corpus.mjs";
import { printTable, writeResults, waitForReady, corpusQuestions, exited, percentile } from "./machine.js";

const DIMS = 384;
const K = 10;
const QUESTIONS = 200;
const SIZES = (process.env.SEARCH_SIZES ?? "10000,100000").split(",").map(Number).filter((n) => n > 0);
const SECONDS = Number(process.env.SEARCH_SECONDS ?? 10);
const HTTP = process.env.SEARCH_HTTP !== "0";
const AUTH = process.env.SEARCH_AUTH === "1";
/** A plain-text API token for the SEARCH_AUTH run (holds every role). */
const BENCH_TOKEN = "bench-search-token-0123456789";
/** `ragops serve --processes` values the HTTP part runs with, one after another. */
const PROCESSES = (process.env.SEARCH_PROCESSES ?? "1,2").split(",").map(Number).filter((n) => n > 0);
const TEXT_ROWS = Number(process.env.SEARCH_TEXT_ROWS ?? 100_000);

const ms = (n: number) => Number(n.toFixed(2));
const rssMb = () => Math.round(process.memoryUsage().rss / 2 ** 20);

/** Clustered unit vectors: 1,000 seeded centres plus noise (uniform noise would have no near neighbours at all). */
function vectorSource(seed: number) {
  const random = mulberry32(seed);
  const centres = Array.from({ length: 1000 }, () => Float32Array.from({ length: DIMS }, () => random() * 2 - 1));
  const unit = (v: Float32Array) => {
    let norm = 0;
    for (const x of v) norm += x * x;
    norm = Math.sqrt(norm);
    return v.map((x) => x / norm);
  };
  return {
    dense: () => {
      const centre = centres[Math.floor(random() * centres.length)] as Float32Array;
      return unit(centre.map((x) => x + (random() * 2 - 1) * 1.5));
    },
    /** About 20 non-zero dimensions, as the offline embedder gives a dozen-word question. */
    sparse: () => {
      const v = new Float32Array(DIMS);
      for (let i = 0; i < 20; i++) v[Math.floor(random() * DIMS)] = random() * 2 - 1;
      return unit(v);
    },
  };
}

interface PathFigures {
  path: string;
  p50: number;
  p99: number;
  qps: number;
  recallAt10?: number;
}

async function timeQueries(queries: readonly Float32Array[], run: (q: Float32Array) => Promise<string[]>, truth?: readonly string[][]): Promise<Omit<PathFigures, "path">> {
  for (const q of queries.slice(0, 5)) await run(q); // warm-up
  const times: number[] = [];
  let agreed = 0;
  const started = performance.now();
  for (const [i, q] of queries.entries()) {
    const t = performance.now();
    const ids = await run(q);
    times.push(performance.now() - t);
    if (truth) agreed += ids.filter((id) => truth[i]?.includes(id)).length;
  }
  const total = (performance.now() - started) / 1000;
  times.sort((a, b) => a - b);
  return { p50: ms(percentile(times, 50)), p99: ms(percentile(times, 99)), qps: Math.round(queries.length / total), ...(truth ? { recallAt10: Number((agreed / (K * queries.length)).toFixed(3)) } : {}) };
}

interface TableFigures {
  rows: number;
  writeSeconds: number;
  annBuildSeconds: number;
  ann: unknown;
  rssMb: number;
  paths: Record<"dense" | "offline", PathFigures[]>;
}

async function syntheticTable(rows: number, root: string): Promise<TableFigures> {
  const dir = join(root, `lance-${rows}`);
  const source = vectorSource(rows);
  const index: LanceDbIndex = await createLanceDbIndex({ dir, version: "bench", dimensions: DIMS, annMinRows: rows });
  const point = (i: number): Datapoint => ({ id: `r${i}`, vector: source.dense(), restricts: { documentIds: [`d${i % 500}`], tags: [], contentTypes: [] }, numericRestricts: {} });
  process.stderr.write(`  ${rows} rows: writing…\n`);
  let started = performance.now();
  const BATCH = 10_000;
  for (let i = 0; i < rows; i += BATCH) await index.upsert(Array.from({ length: Math.min(BATCH, rows - i) }, (_, j) => point(i + j)));
  const writeSeconds = (performance.now() - started) / 1000;
  process.stderr.write(`  ${rows} rows: building the ANN index…\n`);
  started = performance.now();
  await index.maintain();
  await index.indexesSettled();
  const annBuildSeconds = (performance.now() - started) / 1000;
  // The truth comes from an exact in-memory scan even past the default snapshot limit (LanceDB's flat scan takes seconds a question at 1,000,000 rows).
  const exact = await createLanceDbIndex({ dir, version: "bench", dimensions: DIMS, annMinRows: 0, awaitSnapshot: true, memoryScanMaxRows: Math.max(rows, DEFAULT_MEMORY_SCAN_MAX_ROWS) });
  const lancedb = await import("@lancedb/lancedb");
  const db = await lancedb.connect(dir);
  const raw = await db.openTable("chunks_bench");
  const rawIds = async (q: Float32Array, flat: boolean) => {
    let search = raw.vectorSearch(Array.from(q)).distanceType("cosine").select(["id", "_distance"]).limit(K);
    search = flat ? search.bypassVectorIndex() : search.ef(100);
    return ((await search.toArray()) as Array<{ id: string }>).map((r) => String(r.id));
  };
  const ids = async (i: { query: LanceDbIndex["query"] }, q: Float32Array) => (await i.query(q, { k: K })).map((n) => n.id);
  const paths = { dense: [] as PathFigures[], offline: [] as PathFigures[] };
  for (const kind of ["dense", "offline"] as const) {
    const queries = Array.from({ length: QUESTIONS }, () => (kind === "dense" ? source.dense() : source.sparse()));
    process.stderr.write(`  ${rows} rows: ${kind} questions…\n`);
    const truth: string[][] = [];
    for (const q of queries) truth.push(await ids(exact, q));
    paths[kind].push({ path: "ragops (snapshot or ANN, as chosen)", ...(await timeQueries(queries, (q) => ids(index, q), truth)) });
    paths[kind].push({ path: rows <= DEFAULT_MEMORY_SCAN_MAX_ROWS ? "ragops exact snapshot" : "exact snapshot (past ragops' default memoryScanMaxRows)", ...(await timeQueries(queries, (q) => ids(exact, q), truth)) });
    paths[kind].push({ path: "LanceDB with the same index (peer: the floor)", ...(await timeQueries(queries, (q) => rawIds(q, false), truth)) });
    // LanceDB's flat scan takes about a second per question at 100,000 rows: 20 questions say enough past 20,000.
    const flatCount = rows > 20_000 ? 20 : queries.length;
    paths[kind].push({ path: "LanceDB flat search (peer: before the snapshot)", ...(await timeQueries(queries.slice(0, flatCount), (q) => rawIds(q, true), truth.slice(0, flatCount))) });
  }
  const figures = { rows, writeSeconds: Number(writeSeconds.toFixed(1)), annBuildSeconds: Number(annBuildSeconds.toFixed(1)), ann: (await index.describe()).ann, rssMb: rssMb(), paths };
  raw.close();
  db.close();
  await exact.close();
  await index.close();
  rmSync(dir, { recursive: true, force: true });
  return figures;
}

/** What the index measured of its own recall after the build (rows as questions: AnnRecall), for the line above a table. */
function annRecallNote(ann: unknown): string {
  const recall = (ann as { recall?: { at10: number; seconds: number } } | undefined)?.recall;
  return recall ? ` (its own recall@10 on its rows ${recall.at10}, measured in ${recall.seconds} s)` : "";
}

// ---------------------------------------------------------------- text past the snapshot

interface TextFigures {
  rows: number;
  writeSeconds: number;
  fullTextBuildSeconds: number;
  fullText: unknown;
  /** Term statistics of a question's terms: the first time at a table version (a scan of the rows holding them), and again. */
  termStats: { firstP50: number; firstP99: number; heldP50: number };
  paths: PathFigures[];
  measuredAt?: string;
}

async function textTable(rows: number, root: string): Promise<TextFigures> {
  const dir = join(root, `lance-text-${rows}`);
  process.stderr.write(`  text: ${rows} corpus paragraphs…\n`);
  const { texts, points } = corpusDatapoints(rows);
  // memoryScanMaxRows 0: every question takes the path of a table past the snapshot limit.
  const index = await createLanceDbIndex({ dir, version: "bench", dimensions: 2, memoryScanMaxRows: 0, annMinRows: 0, fullTextMinRows: rows });
  const started = performance.now();
  for (let i = 0; i < points.length; i += 10_000) await index.upsert(points.slice(i, i + 10_000));
  const writeSeconds = (performance.now() - started) / 1000;
  process.stderr.write(`  text: building the full-text index and measuring its recall…\n`);
  await index.maintain();
  await index.indexesSettled();
  const fullTextBuildSeconds = (await index.describe()).fullText.lastBuildSeconds ?? Number.NaN;
  const pushDown = await createLanceDbIndex({ dir, version: "bench", dimensions: 2, memoryScanMaxRows: 0, annMinRows: 0, fullTextMinRows: 0 });
  const snapshot = await createLanceDbIndex({ dir, version: "bench", dimensions: 2, memoryScanMaxRows: rows, annMinRows: 0, fullTextMinRows: 0, awaitSnapshot: true });
  const questions = corpusQuestions(texts.map((text) => ({ text })), QUESTIONS).map(countTerms);
  const first: number[] = [];
  const sparse: SparseVector[] = [];
  for (const terms of questions) {
    const t0 = performance.now();
    const stats = await pushDown.termStats(Array.from(terms.ids));
    first.push(performance.now() - t0);
    sparse.push(queryVector(terms, stats));
  }
  const held: number[] = [];
  for (const terms of questions) {
    const t0 = performance.now();
    await pushDown.termStats(Array.from(terms.ids));
    held.push(performance.now() - t0);
  }
  first.sort((a, b) => a - b);
  held.sort((a, b) => a - b);
  const lancedb = await import("@lancedb/lancedb");
  const db = await lancedb.connect(dir);
  const raw = await db.openTable("chunks_bench");
  process.stderr.write(`  text: ${QUESTIONS} questions…\n`);
  const truth: Neighbor[][] = [];
  for (const q of sparse) truth.push(await snapshot.query(null, { k: K, sparse: q }));
  const timed = async (path: string, ask: (q: SparseVector) => Promise<Neighbor[]>, count = sparse.length): Promise<PathFigures> => {
    const times: number[] = [];
    let recall = 0;
    for (let i = 0; i < count; i++) {
      const t0 = performance.now();
      const got = await ask(sparse[i] as SparseVector);
      times.push(performance.now() - t0);
      recall += recallAt10(truth[i] as Neighbor[], got);
    }
    times.sort((a, b) => a - b);
    const total = times.reduce((a, b) => a + b, 0) / 1000;
    return { path, p50: ms(percentile(times, 50)), p99: ms(percentile(times, 99)), qps: Math.round(count / total), recallAt10: Number((recall / count).toFixed(3)) };
  };
  const rawFullText = async (q: SparseVector): Promise<Neighbor[]> => {
    const terms = Array.from(q.dimensions).join(" ");
    const hits = (await raw.query().fullTextSearch(terms, { columns: "sparse_terms" }).select(["id", "_score"]).limit(K).toArray()) as Array<{ id: string; _score: number }>;
    // Its own BM25 scores are not ours: recall counts its ids only (a tie with the exact tenth is not credited).
    return hits.map((h) => ({ id: String(h.id), score: -Infinity }));
  };
  const paths = [
    await timed("ragops past the snapshot (full-text candidates, scored exactly)", (q) => index.query(null, { k: K, sparse: q })),
    // The scan reads every row holding a term: 50 questions say enough.
    await timed("ragops past the snapshot without the index (terms pushed down to a scan)", (q) => pushDown.query(null, { k: K, sparse: q }), 50),
    await timed("ragops exact snapshot (the path up to memoryScanMaxRows)", (q) => snapshot.query(null, { k: K, sparse: q })),
    await timed("LanceDB full-text search, same index, its own BM25 (peer: the floor)", rawFullText),
  ];
  const figures = {
    rows,
    writeSeconds: Number(writeSeconds.toFixed(1)),
    fullTextBuildSeconds: Number(fullTextBuildSeconds.toFixed(2)),
    fullText: (await index.describe()).fullText,
    termStats: { firstP50: ms(percentile(first, 50)), firstP99: ms(percentile(first, 99)), heldP50: ms(percentile(held, 50)) },
    paths,
  };
  raw.close();
  db.close();
  for (const opened of [index, pushDown, snapshot]) await opened.close();
  rmSync(dir, { recursive: true, force: true });
  return figures;
}

// ---------------------------------------------------------------- HTTP

function previousFigures(): { tables: Array<TableFigures & { measuredAt?: string }>; http?: { chunks: number; runs: HttpFigures[]; measuredAt?: string }; text?: TextFigures } {
  try {
    const last = JSON.parse(readFileSync(new URL("results/search.json", import.meta.url), "utf8")) as { at: string; tables?: Array<TableFigures & { measuredAt?: string }>; http?: { chunks: number; runs: HttpFigures[]; measuredAt?: string }; text?: TextFigures };
    return {
      tables: (last.tables ?? []).map((t) => ({ ...t, measuredAt: t.measuredAt ?? last.at })),
      ...(last.http ? { http: { ...last.http, measuredAt: last.http.measuredAt ?? last.at } } : {}),
      ...(last.text ? { text: { ...last.text, measuredAt: last.text.measuredAt ?? last.at } } : {}),
    };
  } catch {
    return { tables: [] };
  }
}



/** A process and the serving processes it forked (ragops serve --processes n). */
function serverPids(pid: number): number[] {
  const children = readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  return [pid, ...children];
}

/** The sum of each process's peak RSS: an upper bound of their peak together. */
function peakRssMb(pids: readonly number[]): number {
  let kb = 0;
  for (const pid of pids) kb += Number(/^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0);
  return Math.round(kb / 1024);
}

/** CPU time (user + system) the processes have used, ms. */
function cpuMs(pids: readonly number[]): number {
  const tick = 10; // USER_HZ is 100 on Linux
  let ticks = 0;
  for (const pid of pids) {
    const fields = (readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1] ?? "").split(" ");
    ticks += Number(fields[11]) + Number(fields[12]);
  }
  return ticks * tick;
}

interface HttpFigures {
  processes: number;
  /** Run with an API token and both search rate limits counted (SEARCH_AUTH). */
  tokens?: boolean;
  connections: number;
  requests: number;
  perSecond: number;
  p50: number;
  p99: number;
  errors: number;
  /** Server CPU (all its processes) per search answered, ms. */
  cpuMsPerSearch: number;
  serverPeakRssMb: number;
}

async function httpSearch(root: string): Promise<{ chunks: number; runs: HttpFigures[] }> {
  const redis = await ensureRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:1", { dir: join(root, "redis"), preferUrlPort: false });
  const port = 19_000 + Math.floor(Math.random() * 1000);
  const configFile = join(root, "ragops.json");
  const configure = (tokens: boolean) =>
    writeFileSync(
      configFile,
      JSON.stringify({
        dataDir: join(root, "data"),
        redis: { url: redis.url, prefix: `search${process.pid}` },
        http: { port },
        log: { level: "warn" },
        // One load generator stands for many clients: the per-address search limit (limits.rate.searchPerAddress, 500/s
        // sustained by default) would answer it 429 past that, so it is off here; everything else is the default.
        // With tokens, both limits are counted but set past reach: the cost of counting is what the run shows.
        ...(tokens ? { auth: { tokens: { bench: BENCH_TOKEN } }, limits: { rate: { searchPerAddress: 100_000_000, searchPerToken: 100_000_000 } } } : { limits: { rate: { searchPerAddress: 0 } } }),
      }),
    );
  configure(false);
  const env = { ...process.env, RAGOPS_CONFIG: configFile };
  const ragops = (args: string[], flags: string[] = []) => spawn(process.execPath, [...flags, "--import", "tsx", "src/cli/main.ts", ...args], { env, stdio: ["ignore", "ignore", "inherit"] });
  // The server runs as it ships (compiled, `node bin/ragops.js`, as the Dockerfile runs it): tsx's loader adds memory and start-up work a deployment has not.
  process.stderr.write("  HTTP: compiling (npm run build)…\n");
  if ((await exited(spawn("npm", ["run", "build", "--silent"], { stdio: ["ignore", "ignore", "inherit"] }))) !== 0) throw new Error("npm run build failed");
  const shipped = (args: string[], flags: string[] = []) => spawn(process.execPath, [...flags, "bin/ragops.js", ...args], { env, stdio: ["ignore", "ignore", "inherit"] });
  const docs = generateCorpus();
  const folder = join(root, "corpus");
  mkdirSync(folder);
  for (const doc of docs) writeFileSync(join(folder, `${doc.id}.md`), doc.text);
  process.stderr.write("  HTTP: ingesting the shared corpus…\n");
  const code = await exited(ragops(["ingest", folder]));
  if (code !== 0) throw new Error(`ragops ingest exited ${code}`);
  const base = `http://127.0.0.1:${port}`;
  const questions = corpusQuestions(docs, 500);
  let chunks = 0;
  const runs: HttpFigures[] = [];
  const variants = [...PROCESSES.map((processes) => ({ processes, tokens: false })), ...(AUTH ? [{ processes: 1, tokens: true }] : [])];
  for (const { processes, tokens } of variants) {
    configure(tokens);
    const headers = { "content-type": "application/json", ...(tokens ? { authorization: `Bearer ${BENCH_TOKEN}` } : {}) };
    const profile = process.env.SEARCH_SERVER_PROF;
    const server = shipped(["serve", "--processes", String(processes)], profile ? ["--cpu-prof", "--cpu-prof-dir", profile] : []);
    try {
      await waitForReady(`${base}/readyz`, server);
      // With more than one process, /readyz answers once the first listens: wait for all of them.
      while (serverPids(server.pid as number).length < (processes > 1 ? processes + 1 : 1)) await new Promise((resolve) => setTimeout(resolve, 100));
      const shown = (await (await fetch(`${base}/v1/indexes/v1`, { headers })).json()) as { counts?: { datapoints?: number } };
      chunks = shown.counts?.datapoints ?? chunks;
      const run = async (connections: number, seconds: number): Promise<HttpFigures> => {
        const latencies: number[] = [];
        const pids = serverPids(server.pid as number);
        const cpuBefore = cpuMs(pids);
        const instance = autocannon({
          url: base,
          connections,
          duration: seconds,
          requests: questions.map((query) => ({ method: "POST" as const, path: "/v1/search", headers, body: JSON.stringify({ query, k: K }) })),
        }) as unknown as autocannon.Instance & Promise<autocannon.Result>;
        instance.on("response", (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
        const result = await instance;
        const cpu = cpuMs(pids) - cpuBefore;
        latencies.sort((a, b) => a - b);
        return {
          processes,
          ...(tokens ? { tokens } : {}),
          connections,
          requests: result.requests.total,
          perSecond: Math.round(result.requests.total / seconds),
          p50: ms(percentile(latencies, 50)),
          p99: ms(percentile(latencies, 99)),
          errors: result.errors + result.timeouts + result.non2xx,
          cpuMsPerSearch: ms(cpu / Math.max(1, result.requests.total)),
          serverPeakRssMb: peakRssMb(pids),
        };
      };
      // Warm-up: every process loads its snapshot and warms its JIT (connections spread over the processes).
      await run(processes * 2, 3);
      for (const connections of [1, 10, 50]) {
        process.stderr.write(`  HTTP: ${processes} process(es)${tokens ? ", tokens and rate limits" : ""}, ${connections} connection(s), ${SECONDS} s…\n`);
        runs.push(await run(connections, SECONDS));
      }
    } finally {
      server.kill("SIGTERM");
      await exited(server);
    }
  }
  await redis.stop();
  return { chunks, runs };
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "ragops-bench-search-"));
  try {
    const measured: TableFigures[] = [];
    for (const rows of SIZES) measured.push(await syntheticTable(rows, root));
    // A run of some sizes (or without HTTP) keeps the figures of the others from the last run, marked with their date.
    const earlier = previousFigures();
    const tables = [...measured, ...earlier.tables.filter((t) => !SIZES.includes(t.rows))].sort((a, b) => a.rows - b.rows);
    for (const table of tables) {
      console.log(`\n${table.rows.toLocaleString("en")} rows of ${DIMS}-d vectors: written in ${table.writeSeconds} s, ANN index built in ${table.annBuildSeconds} s${annRecallNote(table.ann)}, process RSS ${table.rssMb} MB${"measuredAt" in table && table.measuredAt ? ` (kept from the run of ${table.measuredAt})` : ""}`);
      printTable(
        ["questions", "path", "p50 (ms)", "p99 (ms)", "searches/s", "recall@10 vs exact"],
        (["dense", "offline"] as const).flatMap((kind) => table.paths[kind].map((p) => [kind, p.path, p.p50, p.p99, p.qps, p.recallAt10 ?? "–"])),
      );
    }
    const text = TEXT_ROWS > 0 ? await textTable(TEXT_ROWS, root) : earlier.text;
    if (text) {
      const recall = (text.fullText as { recall?: { at10: number; seconds: number } } | undefined)?.recall;
      console.log(
        `\nText questions past the snapshot, ${text.rows.toLocaleString("en")} corpus paragraphs: written in ${text.writeSeconds} s, full-text index built in ${text.fullTextBuildSeconds} s${recall ? ` (its own recall@10 ${recall.at10.toFixed(3)}, measured in ${recall.seconds} s)` : ""}; term statistics of a question ${text.termStats.firstP50} ms p50 (${text.termStats.firstP99} p99) the first time at a table version, ${text.termStats.heldP50} ms held${text.measuredAt ? ` (kept from the run of ${text.measuredAt})` : ""}`,
      );
      printTable(["path", "p50 (ms)", "p99 (ms)", "searches/s", "recall@10 vs exact"], text.paths.map((p) => [p.path, p.p50, p.p99, p.qps, p.recallAt10 ?? "–"]));
    }
    const http = HTTP ? await httpSearch(root) : earlier.http;
    if (http) {
      console.log(`\nPOST /v1/search on the shared corpus (${http.chunks} chunks), ${SECONDS} s per row${"measuredAt" in http && http.measuredAt ? ` (kept from the run of ${http.measuredAt})` : ""}:`);
      printTable(
        ["processes", "tokens + limits", "connections", "requests", "searches/s", "p50 (ms)", "p99 (ms)", "errors", "server CPU per search (ms)", "server peak RSS (MB, summed)"],
        http.runs.map((r) => [r.processes ?? 1, r.tokens ? "yes" : "no", r.connections, r.requests, r.perSecond, r.p50, r.p99, r.errors, r.cpuMsPerSearch ?? "–", r.serverPeakRssMb]),
      );
    }
    const at = (rows: number) => tables.find((t) => t.rows === rows);
    const ragopsP50 = (rows: number) => at(rows)?.paths.dense[0]?.p50;
    // The targets read the open runs (no tokens), and of those the process count that served most at 10 connections.
    const open = http?.runs.filter((r) => !r.tokens) ?? [];
    const ten = open.filter((r) => r.connections === 10).sort((a, b) => b.perSecond - a.perSecond)[0];
    const fiftyRuns = open.filter((r) => r.connections === 50);
    const targets = [
      { target: "HTTP on the shared corpus: ≥ 1,000 searches/s at 10 connections", measured: ten ? `${ten.perSecond}/s (${ten.processes ?? 1} process(es))` : "not run", met: ten ? ten.perSecond >= 1000 && ten.errors === 0 : false },
      { target: "HTTP on the shared corpus: p99 ≤ 20 ms at 10 connections", measured: ten ? `${ten.p99} ms` : "not run", met: ten ? ten.p99 <= 20 : false },
      { target: "100,000 chunks: p50 ≤ 10 ms in-process (dense questions)", measured: ragopsP50(100_000) !== undefined ? `${ragopsP50(100_000)} ms` : "not run", met: (ragopsP50(100_000) ?? Infinity) <= 10 },
      { target: "1,000,000 chunks: p50 ≤ 50 ms in-process", measured: ragopsP50(1_000_000) !== undefined ? `${ragopsP50(1_000_000)} ms` : "not run (SEARCH_SIZES=…,1000000)", met: (ragopsP50(1_000_000) ?? Infinity) <= 50 },
      ...fiftyRuns.map((r) => ({ target: `50 concurrent clients: server RSS ≤ 600 MB (${r.processes ?? 1} process(es), summed)`, measured: `${r.serverPeakRssMb} MB`, met: r.serverPeakRssMb <= 600 })),
      { target: "ANN recall@10 vs exact ≥ 0.95", measured: tables.map((t) => `${t.rows}: ${t.paths.dense[0]?.recallAt10}`).join(", "), met: tables.every((t) => (t.paths.dense[0]?.recallAt10 ?? 0) >= 0.95) },
      ...(text ? [{ target: "Text past the snapshot: recall@10 vs exact ≥ 0.95 (the ANN's bar)", measured: `${text.rows}: ${text.paths[0]?.recallAt10}`, met: (text.paths[0]?.recallAt10 ?? 0) >= 0.95 }] : []),
    ];
    console.log();
    printTable(["target", "measured", "met"], targets.map((t) => [t.target, t.measured, t.met ? "yes" : "NO"]));
    const path = writeResults("search", { command: "npm run bench:search", sizes: SIZES, dimensions: DIMS, questions: QUESTIONS, tables, text, http, targets });
    console.log(`figures written to ${path}`);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
