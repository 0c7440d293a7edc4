import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, inject, it } from "vitest";
import { startCli } from "./support/cli.js";

const env = () => ({ ...process.env, REDIS_URL: inject("redisUrl"), RAGOPS_DATA_DIR: mkdtempSync(join(tmpdir(), "ragops-cluster-")), RAGOPS_REDIS_PREFIX: `cluster${process.pid}${Math.random().toString(36).slice(2, 6)}`, PORT: "0" });

/** The serving processes the primary has forked, by pid. */
const childrenOf = (pid: number): number[] =>
  readFileSync(`/proc/${pid}/task/${pid}/children`, "utf8")
    .trim()
    .split(/\s+/)
    .filter(Boolean)
    .map(Number);

const searchOnce = async (url: string, headers: Record<string, string> = {}) => {
  const response = await fetch(`${url}/v1/search`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: JSON.stringify({ query: "anything" }) });
  return response.status;
};

describe("ragops serve --processes", () => {
  it("serves from every process on one port, replaces a process that dies, and stops them all on SIGTERM with status 0", async () => {
    const serve = startCli(env(), "serve", "--processes", "2");
    const [, url] = await serve.stderrMatches(/control plane on (http:\/\/\S+) \(2 processes/);
    const primary = serve.child.pid as number;
    const [first, second] = childrenOf(primary);
    expect([first, second].every((pid) => pid !== undefined)).toBe(true);
    expect(await searchOnce(url as string)).toBe(200);

    // Each of the first two dies in turn; the one left (then its replacement) answers throughout.
    process.kill(first as number, "SIGKILL");
    await serve.stderrMatches(/control-plane process replaced \(2 running\)/);
    expect(await searchOnce(url as string)).toBe(200);
    process.kill(second as number, "SIGKILL");
    await serve.stderrMatches(/replaced \(2 running\)[\s\S]*replaced \(2 running\)/);
    expect(childrenOf(primary)).toHaveLength(2);
    expect(childrenOf(primary)).not.toContain(first);
    expect(childrenOf(primary)).not.toContain(second);
    for (let i = 0; i < 10; i++) expect(await searchOnce(url as string)).toBe(200);

    const serving = childrenOf(primary);
    serve.child.kill("SIGTERM");
    const { status, err } = await serve.exited;
    expect(status).toBe(0);
    // Each serving process finished its own shutdown (closing its server and runtime), not merely died with the primary.
    expect(err.match(/shutting down the control plane/g)).toHaveLength(serving.length);
    for (const pid of serving) expect(() => process.kill(pid, 0)).toThrow();
  });

  it("stops every process gracefully on a Ctrl-C, which signals the whole process group (each gets SIGINT, then the primary's SIGTERM)", async () => {
    const child = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve", "--processes", "2"], { env: env(), detached: true, stdio: ["ignore", "ignore", "pipe"] });
    let err = "";
    child.stderr.on("data", (d: Buffer) => (err += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.once("exit", resolve));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on("data", () => /control plane on http/.test(err) && resolve());
      void exited.then((code) => reject(new Error(`exited early with ${code}: ${err}`)));
    });
    process.kill(-(child.pid as number), "SIGINT");
    expect(await exited).toBe(0);
    expect(err.match(/shutting down the control plane/g)).toHaveLength(2);
    expect(err).not.toMatch(/ended its shutdown with/);
  });

  it("answers GET /metrics with the sum over every process, whichever process the scrape reaches", async () => {
    const serve = startCli(env(), "serve", "--processes", "2");
    try {
      const [, url] = await serve.stderrMatches(/control plane on (http:\/\/\S+) \(2 processes/);
      // A connection of its own each: the primary hands new connections to the processes in turn.
      const searches = 24;
      for (let i = 0; i < searches; i++) expect(await searchOnce(url as string, { connection: "close" })).toBe(200);
      // No worker runs: the upload's job waits on the ingest queue.
      const form = new FormData();
      form.append("file", new Blob(["# Dock\n\nMount the dock on a wall.\n"], { type: "text/markdown" }), "dock.md");
      expect((await fetch(`${url}/v1/documents/dock`, { method: "PUT", body: form, headers: { connection: "close" } })).status).toBe(202);
      const counted = (text: string) => Number(/^ragops_http_request_duration_seconds_count\{[^}]*route="\/v1\/search"[^}]*status="200"[^}]*\} (\d+)$/m.exec(text)?.[1]);
      for (let scrape = 0; scrape < 4; scrape++) {
        const response = await fetch(`${url}/metrics`, { headers: { connection: "close" } });
        expect(response.status).toBe(200);
        const text = await response.text();
        expect(counted(text)).toBe(searches);
        // A gauge read from Redis is the same in every process: shown once, not summed.
        expect(text).toMatch(/^ragops_queue_jobs\{queue="ingest",state="waiting"\} 1$/m);
      }
    } finally {
      serve.child.kill("SIGTERM");
      await serve.exited;
    }
  });

  it("exits non-zero, saying why, when its processes cannot listen", async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, "127.0.0.1", resolve));
    const port = (taken.address() as { port: number }).port;
    try {
      const serve = startCli({ ...env(), PORT: String(port) }, "serve", "--processes", "2");
      const { status, err } = await serve.exited;
      expect(status).not.toBe(0);
      expect(err).toMatch(/EADDRINUSE|address already in use/i);
      expect(err).toMatch(/exited \(code 1\) before it listened/);
    } finally {
      taken.close();
    }
  });
});
