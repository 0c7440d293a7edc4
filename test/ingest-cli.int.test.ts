import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { cliRunner, startCli } from "./support/cli.js";
import { startStack, type Stack } from "./support/stack.js";

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;

/** Three readable documents, one that claims to be a PDF and is not, and a file no parser reads. */
function sampleFolder(): string {
  const dir = mkdtempSync(join(tmpdir(), "ragops-ingest-cli-"));
  writeFileSync(join(dir, "dock.md"), "# Charging dock\n\nMount the CD-10 charging dock against a solid wall with 1.2 metres of clear floor in front of it.\n");
  writeFileSync(join(dir, "battery.md"), "# Battery\n\nReplace the BP-48 battery pack when a full charge lasts less than six hours of picking.\n");
  writeFileSync(join(dir, "travel.txt"), "Travel\n\nHotel stays are reimbursed up to 180 EUR per night in high-cost cities with a receipt.\n");
  writeFileSync(join(dir, "broken.pdf"), "this is not a PDF at all, only text with a .pdf name\n");
  writeFileSync(join(dir, "logo.png"), "not an image either");
  return dir;
}

describe("ragops ingest against a running worker", () => {
  let stack: Stack;
  let dir: string;
  let cli: ReturnType<typeof cliRunner>;

  beforeAll(async () => {
    stack = await startStack();
    dir = sampleFolder();
    cli = cliRunner({ ...process.env, RAGOPS_DATA_DIR: stack.config.dataDir, REDIS_URL: stack.config.redis.url, RAGOPS_REDIS_PREFIX: stack.config.redis.prefix });
  });

  afterAll(async () => {
    await stack?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("prints the summary, then only the failed document with its reason, and plain progress lines on stderr without escape codes", async () => {
    const run = await cli("ingest", dir, "--no-worker");
    expect(run.status, run.err).toBe(1);
    expect(run.out).toMatch(/^documents {2}5 found: 3 indexed, 0 unchanged, 1 failed, 1 skipped$/m);
    expect(run.out).toMatch(/^chunks {5}3 total: 3 embedded, 0 cache hits, 0 near-duplicates$/m);
    expect(run.out).toMatch(/^time {7}[\d.]+ m?s: [\d.]+ documents\/s, [\d.]+ chunks\/s$/m);
    expect(run.out).toMatch(/^failed: 1 of 5 documents \(--all lists every document\)$/m);
    const listed = run.out.slice(run.out.indexOf("failed: 1 of 5")).split("\n").slice(2).filter(Boolean);
    expect(listed).toEqual([expect.stringMatching(/^broken\.pdf {2,}\S/)]);
    expect(run.err).toMatch(/^ingest: 4 documents queued, waiting for the workers$/m);
    expect(run.err).toMatch(/^ingest: 4\/4 documents, 3 chunks, [\d.]+ docs\/s, [\d.]+ chunks\/s, ETA 0 s$/m);
    expect(run.out).not.toMatch(ANSI);
    expect(run.err).not.toMatch(ANSI);
  });

  it("lists every document with its state under --all", async () => {
    const run = await cli("ingest", dir, "--no-worker", "--all");
    expect(run.status, run.err).toBe(1);
    expect(run.out).toMatch(/^documents {2}5 found: 0 indexed, 3 unchanged, 1 failed, 1 skipped$/m);
    const rows = run.out.slice(run.out.indexOf("every document (5):")).split("\n").slice(2).filter(Boolean);
    expect(rows.map((row) => row.split(/ {2,}/).slice(0, 3))).toEqual([
      ["battery.md", "2", "unchanged"],
      ["broken.pdf", "2", "failed"],
      ["dock.md", "2", "unchanged"],
      ["travel.txt", "2", "unchanged"],
      [join(dir, "logo.png"), "-", "skipped"],
    ]);
    expect(run.out).not.toMatch(ANSI);
  });
});

describe("ragops ingest interrupted while it waits", () => {
  it("stops waiting on SIGINT, reports the queued documents as pending and how to follow them, and exits 130", async () => {
    const dir = sampleFolder();
    // No worker on this prefix: the jobs stay queued, so the interrupt always finds them pending.
    const dataDir = mkdtempSync(join(tmpdir(), "ragops-cli-"));
    const env = { ...process.env, REDIS_URL: inject("redisUrl"), RAGOPS_DATA_DIR: dataDir, RAGOPS_REDIS_PREFIX: `int${randomUUID().slice(0, 8)}` };
    const running = startCli(env, "ingest", dir, "--no-worker");
    try {
      await running.stderrMatches(/documents queued, waiting for the workers/);
      running.child.kill("SIGINT");
      const run = await running.exited;
      expect(run.status).toBe(130);
      expect(run.out).toMatch(/^documents {2}5 found: 0 indexed, 0 unchanged, 0 failed, 1 skipped, 4 pending$/m);
      expect(run.err).toMatch(/^ingest: interrupted: 4 of 4 queued documents still pending\.$/m);
      expect(run.err).toMatch(/keep running in the `ragops worker` processes/);
      expect(run.err).toMatch(/GET \/v1\/jobs\/<job id> .*\(e\.g\. \/v1\/jobs\/ingest-[\w.-]+-v1-[0-9a-f]+\)/);
    } finally {
      // A failed expectation must not leave the CLI waiting forever for jobs no worker runs.
      if (running.child.exitCode === null) running.child.kill("SIGKILL");
      for (const path of [dir, dataDir]) rmSync(path, { recursive: true, force: true });
    }
  });
});
