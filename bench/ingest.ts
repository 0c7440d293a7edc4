/**
 * npm run bench:ingest
 *
 * The shared corpus v1 through the real path, each step timed from outside:
 *
 *   a. first ingest: `ragops ingest <folder> --no-worker` (the CLI as a child
 *      process) against one `ragops worker` process, local object store,
 *      LanceDB, a private Redis; wall time until the CLI exits, chunks, objects
 *      written to the store, Redis commands, peak RSS of worker and CLI;
 *   b. green builds: `ragops index create --wait` with another chunk size (every
 *      chunk new), then with settings that give the same chunks (every vector in
 *      the embedding cache), each timed until the version is ready;
 *   c. the same first ingest with 1, 2 and 4 worker processes, the embedder and
 *      the index behind injected latency (config simulate.*), each on a fresh
 *      data dir and Redis prefix;
 *   d. the peers in this process: LangChain.js index() and LlamaIndex.TS
 *      IngestionPipeline, as bench:incremental runs them (run first, so the
 *      reference of the targets meets the machine in the state (a) does).
 *
 * Only the CLI, config and process boundaries are assumed, so the benchmark
 * measures whatever the embedding cache and the sync path do today. Knobs:
 *   INGEST_WORKERS=1,2,4        worker processes for (c) ("" skips it)
 *   INGEST_EMBED_LATENCY_MS=50  INGEST_INDEX_WRITE_LATENCY_MS=30
 *   INGEST_BUILDS=1             the green builds of (b) (0 skips them)
 *   INGEST_GREEN_CHUNK_SIZE=384 chunk size of the first green build
 *   INGEST_PEERS=langchain,llamaindex ("" skips them)
 *   INGEST_DOCS=200             only the first N documents (a quick trial)
 *   INGEST_CPU_PROF=1           profile the worker of (a) and print where its time went
 *   INGEST_CPU_PROF_DIR=<dir>   with INGEST_CPU_PROF, keep the worker's .cpuprofile there (open it in Chrome DevTools)
 *   INGEST_STEP_TIMEOUT_S=600   longest any one step may take before the run fails
 *   INGEST_RUNTIME=dist         dist: the compiled CLI (built first), as `npx ragops` runs; tsx: from source
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, createWriteStream } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { Redis } from "ioredis";
import { loadConfig } from "../config/load.js";
import { ensureRedis, type LocalRedis } from "../src/dev/local-redis.js";
import { createLifecycleQueue } from "../src/queues/lifecycle-queue.js";
import { openRuntime } from "../src/runtime.js";
import { corpusStats, generateCorpus, type CorpusDoc } from "./corpus.mjs";
import { machine, printTable, writeResults } from "./machine.js";
import { langChainPeer, llamaIndexPeer, type PeerRun } from "./peers.js";

const SIZE = 512; // ragops' default chunk size; the peers chunk at the same size
const OVERLAP = Math.floor(SIZE * 0.15);

const env = process.env;
const listEnv = (name: string, fallback: string) => (env[name] ?? fallback).split(",").map((s) => s.trim()).filter(Boolean);
const numberEnv = (name: string, fallback: number) => (env[name] !== undefined && env[name] !== "" ? Number(env[name]) : fallback);
const WORKER_COUNTS = listEnv("INGEST_WORKERS", "1,2,4").map(Number);
const EMBED_LATENCY_MS = numberEnv("INGEST_EMBED_LATENCY_MS", 50);
const INDEX_WRITE_LATENCY_MS = numberEnv("INGEST_INDEX_WRITE_LATENCY_MS", 30);
const BUILDS = env.INGEST_BUILDS !== "0";
const GREEN_CHUNK_SIZE = numberEnv("INGEST_GREEN_CHUNK_SIZE", 384);
const PEERS = listEnv("INGEST_PEERS", "langchain,llamaindex").map((p) => p.toLowerCase());
const DOCS = numberEnv("INGEST_DOCS", 0);
const CPU_PROF = env.INGEST_CPU_PROF === "1";
const STEP_TIMEOUT_MS = numberEnv("INGEST_STEP_TIMEOUT_S", 600) * 1000;

// ---------------------------------------------------------------- child processes

/** Every process this run started, so they are stopped whatever way the run ends. */
const children = new Set<ChildProcess>();

/** Kills a child's whole process group (a worker's parse processes too). */
function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    child.kill(signal);
  }
}

process.on("exit", () => {
  for (const child of children) killGroup(child, "SIGKILL");
});

/**
 * How the ragops processes run (INGEST_RUNTIME): "dist", the compiled package as `npx ragops`
 * runs it (built by this benchmark first, so it is the checkout's code), or "tsx", from source
 * as the CLI tests run it (every process, parse processes included, pays tsx's start-up).
 */
const RUNTIME = env.INGEST_RUNTIME === "tsx" ? "tsx" : "dist";
const CLI_ENTRY = RUNTIME === "dist" ? ["dist/src/cli/main.js"] : ["--import", "tsx", "src/cli/main.ts"];

/** `ragops <args>` in a process group of its own; stderr goes to `log`. */
function ragops(args: string[], childEnv: NodeJS.ProcessEnv, log: string, nodeFlags: string[] = []): ChildProcess {
  const child = spawn(process.execPath, [...nodeFlags, ...CLI_ENTRY, ...args], { env: childEnv, stdio: ["ignore", "pipe", "pipe"], detached: true });
  children.add(child);
  child.once("exit", () => children.delete(child));
  const file = createWriteStream(log, { flags: "a" });
  child.stderr?.pipe(file);
  child.stdout?.pipe(file);
  return child;
}

const exited = (child: ChildProcess): Promise<number | null> =>
  child.exitCode !== null || child.signalCode !== null ? Promise.resolve(child.exitCode) : new Promise((resolve) => child.once("exit", (code) => resolve(code)));

function tail(file: string, lines = 15): string {
  return existsSync(file) ? readFileSync(file, "utf8").trimEnd().split("\n").slice(-lines).join("\n") : "";
}

async function withTimeout<T>(what: string, promise: Promise<T>, ms = STEP_TIMEOUT_MS): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error(`${what} took longer than ${ms / 1000} s (INGEST_STEP_TIMEOUT_S)`)), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

// ---------------------------------------------------------------- peak memory

/** A process's peak resident set so far (VmHWM, kB), or undefined once it is gone. */
function peakRssKb(pid: number): number | undefined {
  try {
    const match = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return match ? Number(match[1]) : undefined;
  } catch {
    return undefined;
  }
}

function childPids(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8").trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

/** CPU time a process has used so far (user + system), in clock ticks, or undefined once it is gone. */
function cpuTicks(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    // Fields after the command name (which may hold spaces): state is field 3, utime 14, stime 15.
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return Number(fields[11]) + Number(fields[12]);
  } catch {
    return undefined;
  }
}

const TICKS_PER_SECOND = 100; // USER_HZ, 100 on Linux

interface ProcessFigures {
  /** Peak RSS of the process (VmHWM), MB. */
  mainMb: number;
  /** The largest peak RSS of any of its child processes (a worker's parse processes), MB. */
  childMaxMb: number;
  childProcesses: number;
  /** CPU seconds the process and its children have used so far. */
  mainCpuS: number;
  childrenCpuS: number;
}

/**
 * Peak RSS and CPU time of a process and of its child processes, polled every
 * 100 ms. VmHWM is the kernel's own high-water mark, so a poll misses only
 * what a process adds in its last 100 ms; for a process still running,
 * `read()` gives its exact figures so far.
 */
function watchProcess(pid: number) {
  const peaks = new Map<number, number>();
  const cpu = new Map<number, number>();
  const poll = () => {
    const stack = [pid];
    while (stack.length) {
      const p = stack.pop() as number;
      const kb = peakRssKb(p);
      const ticks = cpuTicks(p);
      if (kb !== undefined) peaks.set(p, Math.max(peaks.get(p) ?? 0, kb));
      if (ticks !== undefined) cpu.set(p, Math.max(cpu.get(p) ?? 0, ticks));
      stack.push(...childPids(p));
    }
  };
  poll();
  const timer = setInterval(poll, 100);
  timer.unref();
  return {
    read: (): ProcessFigures => {
      poll();
      const children = [...peaks].filter(([p]) => p !== pid).map(([, kb]) => kb);
      const childTicks = [...cpu].filter(([p]) => p !== pid).reduce((sum, [, t]) => sum + t, 0);
      return {
        mainMb: Math.round((peaks.get(pid) ?? 0) / 1024),
        childMaxMb: Math.round(Math.max(0, ...children) / 1024),
        childProcesses: children.length,
        mainCpuS: (cpu.get(pid) ?? 0) / TICKS_PER_SECOND,
        childrenCpuS: childTicks / TICKS_PER_SECOND,
      };
    },
    stop: () => clearInterval(timer),
  };
}

// ---------------------------------------------------------------- what a step wrote

/** Every object in the local store: key to a fingerprint that changes when the object is rewritten (temp files and locks, dot entries, left out). */
function snapshotObjects(root: string): Map<string, string> {
  const out = new Map<string, string>();
  const walk = (dir: string) => {
    let entries;
    try {
      entries = readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.isFile()) {
        const info = statSync(path, { bigint: true });
        out.set(relative(root, path), `${info.ino}:${info.mtimeNs}:${info.size}`);
      }
    }
  };
  walk(root);
  return out;
}

interface ObjectsWritten {
  /** Objects created or rewritten (a key rewritten several times counts once). */
  written: number;
  created: number;
  /** Objects after the step. */
  total: number;
  /** Written objects by the first segment of their key. */
  byPrefix: Record<string, number>;
}

function objectsWritten(before: Map<string, string>, after: Map<string, string>): ObjectsWritten {
  const byPrefix: Record<string, number> = {};
  let created = 0;
  let written = 0;
  for (const [key, print] of after) {
    if (before.get(key) === print) continue;
    written += 1;
    if (!before.has(key)) created += 1;
    const prefix = key.split("/")[0] as string;
    byPrefix[prefix] = (byPrefix[prefix] ?? 0) + 1;
  }
  return { written, created, total: after.size, byPrefix };
}

/** Calls per command since the Redis server started (INFO commandstats), the benchmark's own INFO left out. */
async function redisCalls(redis: Redis): Promise<Map<string, number>> {
  const info = await redis.info("commandstats");
  const calls = new Map<string, number>();
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) if (match[1] !== "info") calls.set(match[1] as string, Number(match[2]));
  return calls;
}

interface RedisCommands {
  total: number;
  top: Record<string, number>;
}

function redisDelta(before: Map<string, number>, after: Map<string, number>): RedisCommands {
  const delta = [...after].map(([cmd, n]) => [cmd, n - (before.get(cmd) ?? 0)] as const).filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1]);
  return { total: delta.reduce((sum, [, n]) => sum + n, 0), top: Object.fromEntries(delta.slice(0, 8)) };
}

// ---------------------------------------------------------------- one deployment: data dir, config, workers

interface Deployment {
  name: string;
  dataDir: string;
  configFile: string;
  env: NodeJS.ProcessEnv;
  logs: string;
}

function deployment(root: string, name: string, redisUrl: string, simulate?: { embedLatencyMs: number; indexWriteLatencyMs: number }): Deployment {
  const dataDir = join(root, name);
  const logs = join(root, "logs");
  mkdirSync(logs, { recursive: true });
  const configFile = join(root, `${name}.json`);
  // A Redis prefix of its own per deployment: the runs never see each other's queues or registries.
  writeFileSync(configFile, JSON.stringify({ dataDir, redis: { url: redisUrl, prefix: `bi${process.pid}${name}`.slice(0, 32) }, log: { level: "warn" } }));
  const childEnv: NodeJS.ProcessEnv = { ...process.env, RAGOPS_CONFIG: configFile };
  // Whatever the caller's shell sets must not change what is measured.
  for (const key of Object.keys(childEnv)) if (key.startsWith("RAGOPS_") && key !== "RAGOPS_CONFIG") delete childEnv[key];
  delete childEnv.REDIS_URL;
  delete childEnv.PORT;
  if (simulate) {
    childEnv.RAGOPS_SIMULATE_EMBED_LATENCY_MS = String(simulate.embedLatencyMs);
    childEnv.RAGOPS_SIMULATE_INDEX_WRITE_LATENCY_MS = String(simulate.indexWriteLatencyMs);
  }
  return { name, dataDir, configFile, env: childEnv, logs };
}

interface RunningWorker {
  child: ChildProcess;
  watch: ReturnType<typeof watchProcess>;
  spawnedAt: bigint;
  /** Stops it as an operator would (SIGTERM: finish running jobs) and gives its peak RSS, read just before. */
  stop(): Promise<ProcessFigures>;
}

async function startWorker(d: Deployment, id: string, nodeFlags: string[] = []): Promise<RunningWorker> {
  const log = join(d.logs, `${d.name}-worker-${id}.log`);
  const spawnedAt = process.hrtime.bigint();
  const child = ragops(["worker"], d.env, log, nodeFlags);
  const ready = new Promise<void>((resolve, reject) => {
    let seen = "";
    child.stderr?.on("data", (chunk: Buffer) => {
      seen += chunk.toString();
      if (/worker running/.test(seen)) resolve();
    });
    child.once("exit", (code) => reject(new Error(`worker ${d.name}/${id} exited with ${code} before it was ready:\n${tail(log)}`)));
  });
  await withTimeout(`starting worker ${d.name}/${id}`, ready, 120_000);
  const watch = watchProcess(child.pid as number);
  return {
    child,
    watch,
    spawnedAt,
    stop: async () => {
      const peak = watch.read();
      watch.stop();
      killGroup(child, "SIGTERM");
      const timer = setTimeout(() => killGroup(child, "SIGKILL"), 20_000);
      await exited(child);
      clearTimeout(timer);
      killGroup(child, "SIGKILL"); // parse processes it may have left
      return peak;
    },
  };
}

interface CliRun {
  seconds: number;
  startedAt: bigint;
  endedAt: bigint;
  rssMb: number;
  /** CPU seconds the command used (polled: its last 100 ms may be missing). */
  cpuS: number;
}

/** Runs a ragops command to its end; fails the benchmark when it does not exit 0. */
async function runCli(d: Deployment, args: string[], label: string): Promise<CliRun> {
  const log = join(d.logs, `${d.name}-${label}.log`);
  const startedAt = process.hrtime.bigint();
  const child = ragops(args, d.env, log);
  const watch = watchProcess(child.pid as number);
  const code = await withTimeout(`ragops ${args.join(" ")}`, exited(child)).finally(() => watch.stop());
  const endedAt = process.hrtime.bigint();
  if (code !== 0) throw new Error(`ragops ${args.join(" ")} exited with ${code}:\n${tail(log)}`);
  const figures = watch.read();
  return { seconds: Number(endedAt - startedAt) / 1e9, startedAt, endedAt, rssMb: figures.mainMb, cpuS: figures.mainCpuS };
}

/** Datapoints the deployment's live index holds, read after the step (not counted in its Redis commands). */
async function indexedChunks(d: Deployment, version?: string): Promise<number> {
  const runtime = await openRuntime(loadConfig({ env: {}, file: d.configFile, overrides: { log: { level: "silent" } } }));
  try {
    return version ? await (await runtime.catalog.open(version)).index.count() : await (await runtime.index()).count();
  } finally {
    await runtime.close();
  }
}

// ---------------------------------------------------------------- CPU profile of the worker

interface ProfileLine {
  name: string;
  selfMs: number;
  percent: number;
}

/**
 * Self time per function and per module of a V8 CPU profile, counted only in
 * [fromMs, toMs] after the profile's start (the ingest, not the worker's
 * start-up). The profile starts when the worker process does; the window comes
 * from the benchmark's clock, so its edges are good to about 100 ms.
 */
function summarizeProfile(file: string, fromMs: number, toMs: number): { windowMs: number; functions: ProfileLine[]; modules: ProfileLine[] } {
  const profile = JSON.parse(readFileSync(file, "utf8")) as {
    nodes: Array<{ id: number; callFrame: { functionName: string; url: string; lineNumber: number } }>;
    samples: number[];
    timeDeltas: number[];
  };
  const nodes = new Map(profile.nodes.map((n) => [n.id, n.callFrame]));
  const byFunction = new Map<string, number>();
  const byModule = new Map<string, number>();
  let at = 0;
  let total = 0;
  profile.samples.forEach((id, i) => {
    at += (profile.timeDeltas[i] ?? 0) / 1000;
    const ms = (profile.timeDeltas[i + 1] ?? 0) / 1000;
    if (at < fromMs || at > toMs) return;
    const frame = nodes.get(id);
    if (!frame) return;
    const path = frame.url.replace(/^file:\/\//, "");
    const special = /^\(.*\)$/.test(frame.functionName);
    const module = frame.url === "" ? (special ? frame.functionName : "(native: fs, buffers, crypto…)") : path.includes("node_modules/") ? `npm:${(/node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(path) as RegExpExecArray)[1]}` : path.startsWith("node:") ? "node internals" : relative(process.cwd(), path);
    // Line numbers of code tsx compiled are not the source's; the file is what helps.
    const where = frame.url === "" ? "" : ` ${path.includes("node_modules/") ? path.slice(path.lastIndexOf("node_modules/") + 13) : relative(process.cwd(), path)}`;
    const name = `${frame.functionName || "(anonymous)"}${where}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms);
    byModule.set(module, (byModule.get(module) ?? 0) + ms);
    total += ms;
  });
  const top = (m: Map<string, number>, n: number) =>
    [...m].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, ms]) => ({ name, selfMs: Math.round(ms), percent: Number(((100 * ms) / total).toFixed(1)) }));
  return { windowMs: Math.round(total), functions: top(byFunction, 15), modules: top(byModule, 12) };
}

// ---------------------------------------------------------------- the steps

interface IngestFigures {
  step: string;
  workers: number;
  seconds: number;
  chunks: number;
  chunksPerSecond: number;
  objects?: ObjectsWritten;
  redis?: RedisCommands;
  workerRssMb?: number;
  parseProcessRssMb?: number;
  cliRssMb?: number;
  /** CPU seconds by process while the CLI ran. */
  cpu?: CpuFigures;
  /** `ragops --help`: starting Node and loading the CLI, included in the wall time. */
  cliStartupSeconds?: number;
}

interface BuildFigures {
  step: string;
  version: string;
  flags: string[];
  seconds: number;
  chunks: number;
  datapoints: number;
  embedded?: number;
  objects: ObjectsWritten;
  redis: RedisCommands;
  cliRssMb: number;
}

/** One first ingest of the folder: `workers` worker processes, then `ragops ingest --no-worker`; measured from outside. */
async function firstIngest(d: Deployment, folder: string, workers: number, redis: Redis, options: { profile?: string } = {}) {
  const objectsDir = join(d.dataDir, "objects");
  const running: RunningWorker[] = [];
  try {
    for (let i = 0; i < workers; i += 1) running.push(await startWorker(d, String(i + 1), options.profile ? ["--cpu-prof", "--cpu-prof-dir", options.profile] : []));
    const objectsBefore = snapshotObjects(objectsDir);
    const callsBefore = await redisCalls(redis);
    const redisCpuBefore = await redisCpuSeconds(redis);
    const workersBefore = running.map((w) => w.watch.read());
    const cli = await runCli(d, ["ingest", folder, "--no-worker"], `ingest-${workers}w`);
    const workersAfter = running.map((w) => w.watch.read());
    const redisCpu = (await redisCpuSeconds(redis)) - redisCpuBefore;
    const redisCommands = redisDelta(callsBefore, await redisCalls(redis));
    const objects = objectsWritten(objectsBefore, snapshotObjects(objectsDir));
    const spent = (pick: (p: ProcessFigures) => number) => workersAfter.reduce((sum, after, i) => sum + pick(after) - pick(workersBefore[i] as ProcessFigures), 0);
    const cpu = cpuFigures({ workerMainS: spent((p) => p.mainCpuS), parseProcessesS: spent((p) => p.childrenCpuS), cliS: cli.cpuS, redisS: redisCpu }, cli.seconds);
    const spawnedAt = (running[0] as RunningWorker).spawnedAt;
    const peaks = [];
    for (const w of running.splice(0)) peaks.push(await w.stop());
    return { cli, objects, redis: redisCommands, cpu, peaks, firstWorkerSpawnedAt: spawnedAt };
  } finally {
    for (const w of running) await w.stop();
  }
}

/** CPU seconds by process during a step, their sum, and how many of the machine's cores that kept busy on average. */
interface CpuFigures {
  workerMainS: number;
  parseProcessesS: number;
  cliS: number;
  redisS: number;
  totalS: number;
  coresBusy: number;
}

function cpuFigures(parts: Omit<CpuFigures, "totalS" | "coresBusy">, wallSeconds: number): CpuFigures {
  const round = (n: number) => Number(n.toFixed(2));
  const totalS = parts.workerMainS + parts.parseProcessesS + parts.cliS + parts.redisS;
  return { workerMainS: round(parts.workerMainS), parseProcessesS: round(parts.parseProcessesS), cliS: round(parts.cliS), redisS: round(parts.redisS), totalS: round(totalS), coresBusy: round(totalS / wallSeconds) };
}

/** CPU seconds the Redis server has used (INFO cpu). */
async function redisCpuSeconds(redis: Redis): Promise<number> {
  const info = await redis.info("cpu");
  const field = (name: string) => Number(new RegExp(`^${name}:([\\d.]+)`, "m").exec(info)?.[1] ?? 0);
  return field("used_cpu_user") + field("used_cpu_sys");
}

/** `ragops index create --version <version> <flags> --wait`, timed until it exits (the version is ready). */
async function greenBuild(d: Deployment, redis: Redis, step: string, version: string, flags: string[]): Promise<BuildFigures> {
  const objectsDir = join(d.dataDir, "objects");
  const objectsBefore = snapshotObjects(objectsDir);
  const callsBefore = await redisCalls(redis);
  const cli = await runCli(d, ["index", "create", "--version", version, ...flags, "--wait"], `build-${version}`);
  const redisCommands = redisDelta(callsBefore, await redisCalls(redis));
  const objects = objectsWritten(objectsBefore, snapshotObjects(objectsDir));
  const { datapoints, chunks, embedded } = await buildResult(d, version);
  return { step, version, flags, seconds: cli.seconds, chunks, datapoints, ...(embedded !== undefined ? { embedded } : {}), objects, redis: redisCommands, cliRssMb: cli.rssMb };
}

/** What the build job returned (chunks, embedded), and the datapoints its index holds. */
async function buildResult(d: Deployment, version: string): Promise<{ datapoints: number; chunks: number; embedded?: number }> {
  const config = loadConfig({ env: {}, file: d.configFile, overrides: { log: { level: "silent" } } });
  const runtime = await openRuntime(config);
  const queue = createLifecycleQueue(config);
  try {
    const open = await runtime.catalog.open(version);
    const job = open.record.buildJobId ? await queue.getJob(open.record.buildJobId) : undefined;
    const result = (job?.returnvalue ?? {}) as { chunks?: number; embedded?: number };
    const datapoints = await open.index.count();
    return { datapoints, chunks: result.chunks ?? datapoints, ...(result.embedded !== undefined ? { embedded: result.embedded } : {}) };
  } finally {
    await queue.close();
    await runtime.close();
  }
}

// ---------------------------------------------------------------- report

interface Figures {
  stats: ReturnType<typeof corpusStats>;
  batchSize: number;
  ingest: IngestFigures;
  builds: BuildFigures[];
  buildWorkerRss?: { mainMb: number; childMaxMb: number };
  scale: IngestFigures[];
  peers: Array<PeerRun & { system: string }>;
  profile?: ReturnType<typeof summarizeProfile>;
}

interface Target {
  target: string;
  measured: string;
  met: boolean | null;
}

/** The embedding cache's objects: those under a first key segment that names embeddings (whatever the cache's layout is). */
const isCachePrefix = (prefix: string) => /embed/i.test(prefix);

function targetsOf(f: Figures): Target[] {
  const docs = f.stats.docs;
  const langChain = f.peers.find((p) => p.system.startsWith("LangChain"));
  const cachedBuild = f.builds.find((b) => b.version === "same");
  const objects = f.ingest.objects as ObjectsWritten;
  const cacheObjects = Object.entries(objects.byPrefix).filter(([p]) => isCachePrefix(p)).reduce((sum, [, n]) => sum + n, 0);
  const otherObjects = objects.written - cacheObjects;
  // O(batches): one unit per embedding batch, a batch never spanning documents, so at most one partial batch per document.
  const batchBound = docs + Math.ceil(f.ingest.chunks / f.batchSize);
  const one = f.scale.find((r) => r.workers === 1);
  const four = f.scale.find((r) => r.workers === 4);
  const ratio = (a: number, b: number) => Number((a / b).toFixed(2));
  const targets: Target[] = [
    { target: "first ingest ≤ 5 s end to end", measured: `${s2(f.ingest.seconds)} s`, met: f.ingest.seconds <= 5 },
    langChain
      ? { target: "first ingest ≤ 2.5 × LangChain index() in memory (same run)", measured: `${ratio(f.ingest.seconds, langChain.seconds)} × (${s2(langChain.seconds)} s)`, met: f.ingest.seconds <= 2.5 * langChain.seconds }
      : { target: "first ingest ≤ 2.5 × LangChain index()", measured: "LangChain not run (INGEST_PEERS)", met: null },
    cachedBuild
      ? { target: "green build ≤ 5 s when the embedding cache has every vector", measured: `${s2(cachedBuild.seconds)} s (${cachedBuild.embedded ?? "?"} texts embedded)`, met: cachedBuild.seconds <= 5 }
      : { target: "green build from a full cache ≤ 5 s", measured: "not run", met: null },
    { target: "≤ 3 store objects per document besides the embedding cache", measured: `${ratio(otherObjects, docs)} per document (${otherObjects} for ${docs})`, met: otherObjects <= 3 * docs },
    {
      target: `embedding cache: O(batches) objects (≤ documents + chunks / batch size = ${batchBound})`,
      measured: `${cacheObjects} (${ratio(cacheObjects, docs)} per document, ${ratio(cacheObjects, f.ingest.chunks)} per chunk)`,
      met: cacheObjects <= batchBound,
    },
    one && four
      ? { target: "4 workers ≥ 3 × 1 worker under injected latency", measured: `${ratio(one.seconds, four.seconds)} × (${s2(one.seconds)} s → ${s2(four.seconds)} s)`, met: one.seconds >= 3 * four.seconds }
      : { target: "4 workers ≥ 3 × 1 worker", measured: "not run (INGEST_WORKERS)", met: null },
  ];
  return targets;
}

function report(f: Figures): Target[] {
  const docs = f.stats.docs;
  const perDoc = (n: number) => (n / docs).toFixed(2);
  console.log("\nFirst ingest of the corpus (ragops: CLI and one worker process, everything persisted; peers: in memory, this process)");
  printTable(
    ["system", "wall time (s)", "chunks", "chunks/s", "store objects written", "objects / document", "Redis commands", "worker peak RSS (MB)", "parse process peak RSS (MB)", "CLI peak RSS (MB)"],
    [
      ["ragops ingest + ragops worker", s2(f.ingest.seconds), f.ingest.chunks, f.ingest.chunksPerSecond, f.ingest.objects?.written ?? "", perDoc(f.ingest.objects?.written ?? 0), f.ingest.redis?.total ?? "", mb(f.ingest.workerRssMb), mb(f.ingest.parseProcessRssMb), mb(f.ingest.cliRssMb)],
      ...f.peers.map((p) => [p.system, s2(p.seconds), p.held, Math.round(p.held / p.seconds), "", "", "", "", "", ""]),
    ],
  );
  if (f.ingest.cliStartupSeconds !== undefined) console.log(`(the CLI's own start-up, \`ragops --help\`, takes ${s2(f.ingest.cliStartupSeconds)} s of the wall time)`);
  if (f.ingest.cpu) {
    const c = f.ingest.cpu;
    console.log(`CPU during the first ingest: worker ${c.workerMainS} s, its parse processes ${c.parseProcessesS} s, CLI ${c.cliS} s, Redis ${c.redisS} s; ${c.totalS} s in ${s2(f.ingest.seconds)} s of wall time = ${c.coresBusy} of ${machine().cores} cores busy on average`);
  }
  const objects = f.ingest.objects as ObjectsWritten;
  console.log("Store objects the first ingest wrote, by key prefix; Redis commands it issued, by command (top 8)");
  printTable(["key prefix", "objects", "per document"], Object.entries(objects.byPrefix).sort((a, b) => b[1] - a[1]).map(([prefix, n]) => [`${prefix}/`, n, perDoc(n)]));
  printTable(["Redis command", "calls", "per chunk"], Object.entries(f.ingest.redis?.top ?? {}).map(([cmd, n]) => [cmd, n, (n / f.ingest.chunks).toFixed(2)]));

  if (f.builds.length) {
    console.log(`Green builds of the ingested corpus (ragops index create --wait, one worker process; its peak RSS ${mb(f.buildWorkerRss?.mainMb)} MB)`);
    printTable(
      ["build", "wall time to ready (s)", "chunks", "datapoints", "texts embedded", "store objects written", "Redis commands", "CLI peak RSS (MB)"],
      f.builds.map((b) => [b.step, s2(b.seconds), b.chunks, b.datapoints, b.embedded ?? "?", b.objects.written, b.redis.total, b.cliRssMb]),
    );
  }

  if (f.scale.length) {
    const one = f.scale.find((r) => r.workers === 1);
    console.log(`First ingest with N worker processes, ${EMBED_LATENCY_MS} ms injected per embedder call and ${INDEX_WRITE_LATENCY_MS} ms per index write`);
    printTable(
      ["workers", "wall time (s)", "chunks", "chunks/s", "speed-up vs 1 worker", "Redis commands", "CPU s (workers + parse + CLI + Redis)", "cores busy", "max worker peak RSS (MB)"],
      f.scale.map((r) => [
        r.workers,
        s2(r.seconds),
        r.chunks,
        r.chunksPerSecond,
        one ? `${(one.seconds / r.seconds).toFixed(2)}×` : "",
        r.redis?.total ?? "",
        r.cpu ? `${r.cpu.totalS} (${r.cpu.workerMainS} + ${r.cpu.parseProcessesS} + ${r.cpu.cliS} + ${r.cpu.redisS})` : "",
        r.cpu?.coresBusy ?? "",
        mb(r.workerRssMb),
      ]),
    );
  }

  if (f.profile) {
    console.log(`Where the worker's main thread spent the first ingest (V8 CPU profile, self time, ${s2(f.profile.windowMs / 1000)} s of samples)`);
    printTable(["module", "self (ms)", "%"], f.profile.modules.map((m) => [m.name, m.selfMs, m.percent]));
    printTable(["function", "self (ms)", "%"], f.profile.functions.map((m) => [m.name, m.selfMs, m.percent]));
  }

  const targets = targetsOf(f);
  console.log("Targets (issue 12)");
  printTable(["target", "measured", "met"], targets.map((t) => [t.target, t.measured, t.met === null ? "–" : t.met ? "yes" : "NO"]));
  return targets;
}

// ---------------------------------------------------------------- main

const mb = (n: number | undefined) => (n === undefined ? "" : String(n));
const s2 = (n: number) => n.toFixed(2);

async function main(): Promise<void> {
  const all = generateCorpus();
  const docs: CorpusDoc[] = DOCS > 0 ? all.slice(0, DOCS) : all;
  const stats = corpusStats(docs);
  console.log(`corpus v1 ${stats.corpusSha256.slice(0, 8)}… (${stats.docs} docs, ${(stats.chars / 1e6).toFixed(2)} M characters); ragops runs ${RUNTIME === "dist" ? "compiled (dist/, as npx ragops runs it)" : "from source under tsx"}`);
  if (RUNTIME === "dist") {
    process.stderr.write("  building dist/ (npm run build)…\n");
    const build = spawn("npm", ["run", "build", "--silent"], { stdio: "inherit" });
    if ((await exited(build)) !== 0) throw new Error("npm run build failed");
  }
  const root = mkdtempSync(join(tmpdir(), "ragops-bench-ingest-"));
  let redisServer: LocalRedis | undefined;
  let redis: Redis | undefined;
  let stopping = false;
  const cleanup = async () => {
    for (const child of children) killGroup(child, "SIGKILL");
    redis?.disconnect();
    await redisServer?.stop().catch(() => undefined);
    rmSync(root, { recursive: true, force: true });
  };
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      if (stopping) return;
      stopping = true;
      process.stderr.write(`\n${signal}: stopping the benchmark's processes\n`);
      void cleanup().finally(() => process.exit(130));
    });
  }
  try {
    const folder = join(root, "corpus");
    mkdirSync(folder);
    for (const doc of docs) writeFileSync(join(folder, doc.id), doc.text);
    // Always a private Redis: the command counts are this run's alone.
    redisServer = await ensureRedis("redis://127.0.0.1:1", { dir: join(root, "redis"), preferUrlPort: false });
    redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });

    // d. peers, in this process, on the same corpus: first, so the reference the targets use runs on a machine as rested as ragops' first ingest
    const peers: Array<PeerRun & { system: string }> = [];
    for (const [key, make] of [["langchain", langChainPeer], ["llamaindex", llamaIndexPeer]] as const) {
      if (!PEERS.includes(key)) continue;
      const peer = make({ sizeTokens: SIZE, overlapTokens: OVERLAP });
      process.stderr.write(`  d. ${peer.system}…\n`);
      peers.push({ system: peer.system, ...(await peer.run(docs)) });
    }

    // What any ragops command costs before it does anything (Node, tsx, loading the modules): part of every CLI wall time below.
    const startup = await runCli(deployment(root, "startup", redisServer.url), ["--help"], "help");

    // a. first ingest, one worker, the real path
    process.stderr.write("  a. first ingest: ragops ingest against one ragops worker…\n");
    const first = deployment(root, "main", redisServer.url);
    const profileDir = CPU_PROF ? (env.INGEST_CPU_PROF_DIR ?? join(root, "profile")) : undefined;
    const a = await firstIngest(first, folder, 1, redis, profileDir ? { profile: profileDir } : {});
    const firstChunks = await indexedChunks(first);
    const ingest: IngestFigures = {
      step: "first ingest",
      workers: 1,
      seconds: a.cli.seconds,
      chunks: firstChunks,
      chunksPerSecond: Math.round(firstChunks / a.cli.seconds),
      objects: a.objects,
      redis: a.redis,
      workerRssMb: a.peaks[0]?.mainMb,
      parseProcessRssMb: a.peaks[0]?.childMaxMb,
      cliRssMb: a.cli.rssMb,
      cpu: a.cpu,
      cliStartupSeconds: Number(startup.seconds.toFixed(2)),
    };
    let profile: ReturnType<typeof summarizeProfile> | undefined;
    if (profileDir) {
      const files = existsSync(profileDir) ? readdirSync(profileDir).filter((f) => f.endsWith(".cpuprofile")) : [];
      // The profile starts with the worker process; the ingest window is measured on this process's clock from the worker's spawn.
      const since = (t: bigint) => Number(t - a.firstWorkerSpawnedAt) / 1e6;
      if (files[0]) profile = summarizeProfile(join(profileDir, files[0]), since(a.cli.startedAt), since(a.cli.endedAt));
      else process.stderr.write("  (no CPU profile was written by the worker)\n");
    }

    // b. green builds on the same deployment, with a fresh worker (its own peak RSS)
    if (BUILDS) process.stderr.write(`  b. green builds: chunk size ${GREEN_CHUNK_SIZE}, then the same chunks from the embedding cache…\n`);
    const builds: BuildFigures[] = [];
    let buildWorkerRss: { mainMb: number; childMaxMb: number } | undefined;
    if (BUILDS) {
      const worker = await startWorker(first, "builds");
      try {
        builds.push(await greenBuild(first, redis, `green build, chunk size ${GREEN_CHUNK_SIZE} (new chunking)`, `c${GREEN_CHUNK_SIZE}`, ["--chunk-size", String(GREEN_CHUNK_SIZE)]));
        // The built-in settings are the first ingest's: the same chunks, so every vector is in the embedding cache.
        builds.push(await greenBuild(first, redis, "green build, same settings (every vector cached)", "same", []));
      } finally {
        buildWorkerRss = await worker.stop();
      }
    }

    // c. scale-out under injected latency
    const scale: IngestFigures[] = [];
    for (const workers of WORKER_COUNTS) {
      process.stderr.write(`  c. first ingest with ${workers} worker process(es), ${EMBED_LATENCY_MS} ms per embed call, ${INDEX_WRITE_LATENCY_MS} ms per index write…\n`);
      const d = deployment(root, `w${workers}`, redisServer.url, { embedLatencyMs: EMBED_LATENCY_MS, indexWriteLatencyMs: INDEX_WRITE_LATENCY_MS });
      const run = await firstIngest(d, folder, workers, redis);
      const chunks = await indexedChunks(d);
      scale.push({
        step: `first ingest, latency injected`,
        workers,
        seconds: run.cli.seconds,
        chunks,
        chunksPerSecond: Math.round(chunks / run.cli.seconds),
        redis: run.redis,
        cpu: run.cpu,
        workerRssMb: Math.max(...run.peaks.map((p) => p.mainMb)),
      });
      rmSync(d.dataDir, { recursive: true, force: true });
    }

    const batchSize = loadConfig({ env: {}, file: first.configFile }).embedder.batchSize;
    const figures: Figures = { stats, batchSize, ingest, builds, ...(buildWorkerRss ? { buildWorkerRss } : {}), scale, peers, ...(profile ? { profile } : {}) };
    const targets = report(figures);
    if (DOCS > 0) {
      console.log(`a trial on ${DOCS} documents: figures not written`);
      return;
    }
    // A profiled run is slower: its figures go beside the benchmark's, not over them.
    const path = writeResults(CPU_PROF ? "ingest-profiled" : "ingest", {
      command: "npm run bench:ingest",
      corpus: stats,
      settings: { runtime: RUNTIME, chunkSizeTokens: SIZE, peerOverlapTokens: OVERLAP, greenChunkSize: GREEN_CHUNK_SIZE, workers: WORKER_COUNTS, embedLatencyMs: EMBED_LATENCY_MS, indexWriteLatencyMs: INDEX_WRITE_LATENCY_MS, embedBatchSize: batchSize, peakRss: "VmHWM of /proc/<pid>/status: read just before SIGTERM for workers, polled every 100 ms for the CLI" },
      firstIngest: ingest,
      builds,
      buildWorkerRss,
      scaleOut: scale.map((r) => ({ ...r, speedupVs1: Number(((scale.find((x) => x.workers === 1)?.seconds ?? NaN) / r.seconds).toFixed(2)) })),
      peers,
      profile,
      targets,
    });
    console.log(`figures written to ${path} (${machine().cpu}, ${machine().node})`);
  } finally {
    stopping = true;
    await cleanup();
  }
}

await main();
