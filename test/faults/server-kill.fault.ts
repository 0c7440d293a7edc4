import { spawn, type ChildProcess } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAlias } from "../../indexer/lifecycle/alias.js";
import type { AuditEntry } from "../../indexer/lifecycle/audit.js";
import type { Runtime } from "../../src/runtime.js";
import { startCli } from "../support/cli.js";
import { openFileStack, type FileStack } from "../support/file-stack.js";
import { putDocument, searchApi, waitForJob } from "../support/stack.js";
import { sectioned } from "../support/sync-fixtures.js";
import { expectReconcileClean, reconcileDamage } from "./corpus.js";
import { recordTally } from "./tally.js";

const RAGOPS = ["--import", "tsx", "src/cli/main.ts"];

/** A `ragops serve` process and its URL, read from its readiness line. */
async function startServer(configFile: string, failpoint?: string): Promise<{ child: ChildProcess; url: string }> {
  const serve = startCli({ ...process.env, RAGOPS_CONFIG: configFile, ...(failpoint ? { RAGOPS_FAILPOINT: failpoint } : {}) }, "serve");
  const ready = await serve.stderrMatches(/control plane on (http:\/\/\S+)/);
  return { child: serve.child, url: ready[1] as string };
}

const killed = (child: ChildProcess) => new Promise<void>((resolve) => (child.exitCode !== null || child.signalCode !== null ? resolve() : child.once("exit", () => resolve())));

const post = async (url: string, path: string, body: unknown) => {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-ragops-actor": "faults" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/**
 * The control plane SIGKILLed while it swaps the alias back and forth, then
 * started again, three times. The kill lands as the next swap request goes
 * out, so it falls before, inside or after that swap's compare-and-swap. After
 * each restart the alias names one of the two versions, and the audit log
 * tells the alias's whole history: every swap answered 200 is in it, once,
 * each entry's `from` is the one before's `to`, and the last `to` is live.
 */
describe("the control plane SIGKILLed mid-swap and restarted", () => {
  let fixture: FileStack;
  let configFile: string;
  let runtime: Runtime;
  let children: ChildProcess[];

  beforeAll(async () => {
    fixture = await openFileStack("fault-server");
    ({ configFile, runtime, children } = fixture);
  });

  afterAll(async () => {
    await fixture?.stop();
  });

  it("keeps the alias on one version and its audit log whole, every time; reconcile clean", async () => {
    const worker = spawn(process.execPath, [...RAGOPS, "worker", "--concurrency", "2"], { env: { ...process.env, RAGOPS_CONFIG: configFile }, stdio: "ignore" });
    children.push(worker);
    let server = await startServer(configFile);
    children.push(server.child);
    for (const [i, id] of ["manual", "faq", "policy"].entries()) expect((await putDocument(server.url, id, sectioned(80 + i, 4))).state).toBe("completed");
    const created = await post(server.url, "/v1/indexes", { version: "v2", config: { chunking: { sizeTokens: 300 } } });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect((await waitForJob(server.url, String(created.body.buildJobId), 50_000)).state).toBe("completed");

    let live = "v1";
    let answered = 0;
    let cutMidRequest = 0;
    const rounds = 3;
    let inWindow = 0;
    const swapOnce = (round: number) => post(server.url, "/v1/aliases/live/swap", { to: live === "v1" ? "v2" : "v1", expectedVersion: live, force: true, reason: `fault round ${round}` });
    for (let round = 0; round < rounds; round += 1) {
      let lastAnswered: boolean | undefined;
      if (round === 0) {
        // The n-th swap of a fresh process dies between its alias write and its audit append (a failpoint): the window a random kill seldom hits.
        server.child.kill("SIGKILL");
        await killed(server.child);
        server = await startServer(configFile, `alias-written:${1 + Math.floor(Math.random() * 4)}`);
        children.push(server.child);
        for (;;) {
          const swapped = await swapOnce(round).catch(() => undefined);
          if (!swapped) break;
          expect(swapped.status, JSON.stringify(swapped.body)).toBe(200);
          answered += 1;
          live = live === "v1" ? "v2" : "v1";
        }
        await killed(server.child);
        inWindow += 1;
      } else {
        const swapsBeforeKill = 2 + Math.floor(Math.random() * 6);
        for (let i = 0; i < swapsBeforeKill; i += 1) {
          const swapped = await swapOnce(round);
          expect(swapped.status, JSON.stringify(swapped.body)).toBe(200);
          answered += 1;
          live = live === "v1" ? "v2" : "v1";
        }
        // One more swap goes out and the process is killed as it does.
        const last = swapOnce(round).then(
          (r) => r.status === 200,
          () => undefined,
        );
        await new Promise((resolve) => setImmediate(resolve));
        server.child.kill("SIGKILL");
        lastAnswered = await last;
        await killed(server.child);
        if (lastAnswered === undefined) cutMidRequest += 1;
        if (lastAnswered) answered += 1;
      }

      server = await startServer(configFile);
      children.push(server.child);
      const audit = await fetch(`${server.url}/v1/audit?limit=1000`).then((r) => r.json() as Promise<{ entries: AuditEntry[] }>);
      // Alias changes: the first start's promotion of v1, then the swaps (forced, as no evaluation gates them here).
      const changes = audit.entries.filter((e) => ["swap", "forced-promotion", "rollback"].includes(e.action));
      const swaps = changes.slice(1);
      const { alias } = await readAlias(runtime.store);
      expect(["v1", "v2"]).toContain(alias.live);
      expect(alias.journal ?? [], "the audit read appended the journal").toEqual([]);
      expect(changes[0]).toMatchObject({ from: null, to: "v1" });
      // Every answered swap is in the log (the killed one may or may not be), none twice, in an unbroken chain.
      expect(swaps.length).toBeGreaterThanOrEqual(answered);
      expect(swaps.length).toBeLessThanOrEqual(answered + 1);
      // The failpoint's swap had written the alias: its entry came from the journal.
      if (round === 0) expect(swaps.length).toBe(answered + 1);
      expect(new Set(swaps.map((e) => e.id)).size).toBe(swaps.length);
      changes.forEach((entry, i) => i > 0 && expect(entry.from, `change ${i} starts where the one before ended`).toBe(changes[i - 1]?.to));
      expect(changes.at(-1)?.to).toBe(alias.live);
      live = alias.live as string;
      answered = swaps.length;

      const { status, body } = await searchApi(server.url, { query: sectioned(81, 4).split("\n\n")[2] ?? "", k: 1 });
      expect(status).toBe(200);
      expect(body.results[0]?.documentId).toBe("faq");
    }

    const report = await expectReconcileClean(runtime);
    expect(report.versions.map((v) => v.version).sort()).toEqual(["v1", "v2"]);
    recordTally({ scenario: `control plane SIGKILL mid-swap (${rounds} times: ${inWindow} between alias and audit, ${cutMidRequest} more inside a request)`, faults: rounds, recoveries: rounds, ...reconcileDamage(report) });
  });
});
