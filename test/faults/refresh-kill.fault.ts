import { randomUUID } from "node:crypto";
import { mkdirSync, mkdtempSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { loadConfig } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import { openRuntime, type Runtime } from "../../src/runtime.js";
import { cliRunner, startCli } from "../support/cli.js";
import { sectioned } from "../support/sync-fixtures.js";
import { until } from "../support/until.js";
import { corpusDamage, documentStatuses, expectReconcileClean } from "./corpus.js";
import { recordTally } from "./tally.js";

function logbook(seed: number, sections: number): string {
  const parts = [`# Logbook ${seed}`];
  for (let i = 0; i < sections; i += 1) parts.push(`## Entry ${seed}.${i}`, `Entry ${i} of logbook ${seed}: compressor ${seed * 100 + i} read ${(i % 60) + 30} psi at shift ${(i * 3) % 24}, filter ${i} swapped.`);
  return `${parts.join("\n\n")}\n`;
}

/**
 * `ragops refresh` (with its built-in worker) SIGKILLed while the jobs of a
 * changed folder run, then run again: the second refresh takes up what the
 * first left (its stranded jobs included) and ends with the folder indexed
 * as it is, changed, added and deleted files alike.
 */
describe("ragops refresh SIGKILLed mid-run and run again", () => {
  let config: Config;
  let runtime: Runtime;
  let folder: string;
  let env: NodeJS.ProcessEnv;

  beforeAll(async () => {
    const dataDir = mkdtempSync(join(tmpdir(), "ragops-fault-refresh-"));
    const configFile = join(dataDir, "ragops.json");
    // Short locks: the second refresh's worker takes back the killed one's jobs within a second or two.
    const settings = { dataDir, redis: { url: inject("redisUrl"), prefix: `fr${randomUUID().slice(0, 6)}` }, queue: { lockDurationMs: 1_500, stalledIntervalMs: 700, backoffMs: 50 }, sync: { lockTtlMs: 1_500 }, log: { level: "silent" } };
    writeFileSync(configFile, JSON.stringify(settings));
    config = loadConfig({ env: {}, file: configFile });
    runtime = await openRuntime(config);
    folder = join(dataDir, "docs");
    mkdirSync(folder);
    env = { ...process.env, RAGOPS_CONFIG: configFile };
  });

  afterAll(async () => {
    await runtime?.queue.obliterate({ force: true }).catch(() => undefined);
    await runtime?.close();
    if (config) rmSync(config.dataDir, { recursive: true, force: true });
  });

  it("indexes the folder as it is once run again; nothing lost, nothing twice, reconcile clean", async () => {
    const ragops = cliRunner(env);
    for (let i = 0; i < 5; i += 1) writeFileSync(join(folder, `note-${i}.md`), sectioned(300 + i, 3));
    const first = await ragops("refresh", "--source", folder);
    expect(first.status, first.err).toBe(0);

    writeFileSync(join(folder, "note-1.md"), sectioned(311, 4));
    writeFileSync(join(folder, "note-2.md"), sectioned(312, 4));
    unlinkSync(join(folder, "note-4.md"));
    writeFileSync(join(folder, "logbook.md"), logbook(7, 2500));
    writeFileSync(join(folder, "note-5.md"), sectioned(305, 3));

    const killed = startCli(env, "refresh", "--source", folder);
    // Killed once the big new file's job is embedding: the refresh has queued everything and its worker is mid-job.
    const interrupted = await until(async () => {
      const active = await runtime.queue.getJobs(["active"]);
      return active.find((job) => (job.progress as { stage?: string } | undefined)?.stage === "embedding")?.id;
    }, "a refresh job to reach embedding");
    killed.child.kill("SIGKILL");
    await killed.exited;

    const again = await ragops("refresh", "--source", folder);
    expect(again.status, again.err).toBe(0);
    expect((await runtime.queue.getJob(interrupted))?.stalledCounter ?? 0, "the kill interrupted a job, which the second run took up").toBeGreaterThanOrEqual(1);

    const ids = ["note-0.md", "note-1.md", "note-2.md", "note-3.md", "note-4.md", "note-5.md", "logbook.md"];
    const statuses = await until(async () => {
      const now = await documentStatuses(runtime, ids);
      return Object.values(now).every((s) => s === "indexed" || s === "deleted") ? now : undefined;
    }, "every document to reach a terminal state");
    expect(statuses).toEqual({ ...Object.fromEntries(ids.map((id) => [id, "indexed"])), "note-4.md": "deleted" });
    // A third run finds nothing to do: the second left the index as the folder is.
    const third = await ragops("refresh", "--source", folder, "--json");
    expect(third.status, third.err).toBe(0);
    expect(JSON.parse(third.out)).toMatchObject({ changed: 0, added: 0, deleted: 0, failed: 0 });

    await expectReconcileClean(runtime);
    const damage = await corpusDamage(runtime);
    recordTally({ scenario: "ragops refresh SIGKILL mid-run, run again", faults: 1, recoveries: 1, ...damage });
    expect(damage).toEqual({ lost: 0, duplicates: 0 });
  });
});
