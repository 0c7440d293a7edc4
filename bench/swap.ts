/**
 * npm run bench:swap
 *
 * Searches at a fixed rate against 127.0.0.1 (autocannon) while the live alias
 * is swapped 10 times and rolled back 10 times, compared with the same load and
 * no swaps. Live (v1) and green (v2) are chunked differently, so every answer
 * can be checked: all its chunks must belong to the version it names.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, readdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import autocannon from "autocannon";
import { loadConfig } from "../config/load.js";
import { createLanceDbIndex } from "../indexer/indexes/lancedb.js";
import { ensureRedis } from "../src/dev/local-redis.js";
import { machine, printTable, writeResults } from "./machine.js";

const RATE = 100; // requests per second
const SECONDS = 8;
const SWAPS = 10;
const QUERIES = ["E402 wheel encoder fault", "charging dock clearance and breaker", "hotel limit receipts", "battery pack replacement", "Wi-Fi ports VLAN MQTT", "firmware update procedure"];

interface Phase {
  phase: string;
  requests: number;
  errors: number;
  mixed: number;
  byVersion: Record<string, number>;
  p50: number;
  p95: number;
  p99: number;
}

function percentile(sorted: number[], p: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number;
}

async function waitFor(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not up yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function jobDone(base: string, jobId: string): Promise<void> {
  for (;;) {
    const job = (await (await fetch(`${base}/v1/jobs/${jobId}`)).json()) as { state: string; failedReason?: string };
    if (job.state === "completed") return;
    if (job.state === "failed") throw new Error(`job ${jobId} failed: ${job.failedReason}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), "ragops-swap-"));
  const redis = await ensureRedis(process.env.REDIS_URL ?? "redis://127.0.0.1:1", { dir: join(root, "redis"), preferUrlPort: false });
  const port = 18_000 + Math.floor(Math.random() * 2000);
  const settings = { dataDir: join(root, "data"), redis: { url: redis.url, prefix: `swap${process.pid}` }, http: { port }, log: { level: "warn" } };
  const configFile = join(root, "ragops.json");
  writeFileSync(configFile, JSON.stringify(settings));
  const config = loadConfig({ env: {}, file: configFile });
  const children: ChildProcess[] = [];
  const start = (command: string) => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", command], { env: { ...process.env, RAGOPS_CONFIG: configFile }, stdio: ["ignore", "ignore", "inherit"] });
    children.push(child);
  };
  const base = `http://127.0.0.1:${port}`;
  try {
    start("serve");
    start("worker");
    await waitFor(`${base}/readyz`);
    const corpus = join("examples", "corpus");
    const jobs: string[] = [];
    for (const file of readdirSync(corpus)) {
      const form = new FormData();
      form.append("file", new Blob([readFileSync(join(corpus, file))]), file);
      const body = (await (await fetch(`${base}/v1/documents/${file}`, { method: "PUT", body: form })).json()) as { jobId: string };
      jobs.push(body.jobId);
    }
    for (const id of jobs) await jobDone(base, id);
    const green = (await (
      await fetch(`${base}/v1/indexes`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ version: "v2", config: { chunking: { sizeTokens: 300 }, embedder: { dimensions: 256 } } }) })
    ).json()) as { buildJobId: string };
    await jobDone(base, green.buildJobId);

    // Which chunk ids each version holds: an answer whose chunks are not all in the version it names mixed versions.
    const ids: Record<string, Set<string>> = {};
    for (const [version, dimensions] of [["v1", 384], ["v2", 256]] as const) {
      const index = await createLanceDbIndex({ dir: join(config.dataDir, "lancedb"), version, dimensions });
      ids[version] = new Set(await index.listIds());
      await index.close();
    }

    const run = async (phase: string, during?: () => Promise<void>): Promise<Phase> => {
      const latencies: number[] = [];
      const byVersion: Record<string, number> = {};
      let mixed = 0;
      let bad = 0;
      // Without a callback autocannon returns an instance that is also a promise of the result.
      const instance = autocannon({
        url: base,
        connections: 10,
        overallRate: RATE,
        duration: SECONDS,
        requests: QUERIES.map((query) => ({
          method: "POST" as const,
          path: "/v1/search",
          headers: { "content-type": "application/json" },
          body: JSON.stringify({ query, k: 5 }),
          onResponse: (status: number, body: string) => {
            if (status !== 200) return;
            try {
              const answer = JSON.parse(body) as { index: string; results: Array<{ chunkId: string }> };
              byVersion[answer.index] = (byVersion[answer.index] ?? 0) + 1;
              if (!answer.results.every((r) => ids[answer.index]?.has(r.chunkId))) mixed += 1;
            } catch {
              bad += 1;
            }
          },
        })),
      }) as unknown as autocannon.Instance & Promise<autocannon.Result>;
      instance.on("response", (_client: unknown, _status: number, _bytes: number, responseTime: number) => latencies.push(responseTime));
      const [result] = await Promise.all([instance, during?.()]);
      latencies.sort((a, b) => a - b);
      return {
        phase,
        requests: result.requests.total,
        errors: result.errors + result.timeouts + result.non2xx + bad,
        mixed,
        byVersion,
        p50: Number(percentile(latencies, 50).toFixed(1)),
        p95: Number(percentile(latencies, 95).toFixed(1)),
        p99: Number(percentile(latencies, 99).toFixed(1)),
      };
    };

    const swaps = async () => {
      const gap = (SECONDS * 1000) / (2 * SWAPS + 1);
      for (let i = 0; i < SWAPS; i += 1) {
        await new Promise((resolve) => setTimeout(resolve, gap));
        const swap = await fetch(`${base}/v1/aliases/live/swap`, { method: "POST", headers: { "content-type": "application/json", "x-ragops-actor": "bench" }, body: JSON.stringify({ to: "v2", expectedVersion: "v1", force: true, reason: "bench" }) });
        if (!swap.ok) throw new Error(`swap ${i}: ${swap.status} ${await swap.text()}`);
        await new Promise((resolve) => setTimeout(resolve, gap));
        const back = await fetch(`${base}/v1/aliases/live/rollback`, { method: "POST", headers: { "content-type": "application/json", "x-ragops-actor": "bench" }, body: JSON.stringify({ expectedVersion: "v2" }) });
        if (!back.ok) throw new Error(`rollback ${i}: ${back.status} ${await back.text()}`);
      }
    };

    process.stderr.write(`  idle: ${SECONDS} s at ${RATE} searches/s…\n`);
    const idle = await run("idle");
    process.stderr.write(`  during ${SWAPS} swaps and ${SWAPS} rollbacks…\n`);
    const during = await run("during swaps", swaps);
    printTable(
      ["phase", "requests", "errors", "mixed answers", "answered by", "p50 (ms)", "p95 (ms)", "p99 (ms)"],
      [idle, during].map((p) => [p.phase, p.requests, p.errors, p.mixed, Object.entries(p.byVersion).map(([v, n]) => `${v}: ${n}`).join(", "), p.p50, p.p95, p.p99]),
    );
    const ratio = idle.p99 > 0 ? Number((during.p99 / idle.p99).toFixed(2)) : 0;
    console.log(`during swaps: ${during.errors} errors, ${during.mixed} mixed answers, p99 ${during.p99} ms = ${ratio}x idle p99 (targets: 0, 0, <= 1.5x)`);
    const path = writeResults("swap", { command: "npm run bench:swap", rate: RATE, seconds: SECONDS, swaps: SWAPS, rollbacks: SWAPS, phases: [idle, during], p99Ratio: ratio });
    console.log(`figures written to ${path} (${machine().cpu}, ${machine().node})`);
  } finally {
    for (const child of children) child.kill("SIGTERM");
    await new Promise((resolve) => setTimeout(resolve, 1500));
    await redis.stop();
    rmSync(root, { recursive: true, force: true });
  }
}

await main();
