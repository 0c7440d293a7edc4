import { randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import { afterAll, describe, expect, it } from "vitest";
import type { Config } from "../../config/schema.js";
import { uploadKey } from "../../core/documents.js";
import { readManifest } from "../../indexer/sync/manifest.js";
import { profileKey } from "../../indexer/sync/profile.js";
import { getDocument, submitDocument } from "../../src/documents/service.js";
import { openRuntime, type Runtime } from "../../src/runtime.js";
import { startWorkers, type Workers } from "../../src/worker/worker.js";
import { testConfig } from "../support/stack.js";
import { manifestOf, sectioned } from "../support/sync-fixtures.js";
import { until } from "../support/until.js";
import { allTerminal, corpusDamage, expectReconcileClean } from "./corpus.js";
import { recordTally } from "./tally.js";

/** Two workers (two runtimes, as two processes would have) take replaces of the same ids submitted through both at once. */
describe("two workers racing replaces of the same ids", () => {
  let config: Config | undefined;
  const runtimes: Runtime[] = [];
  const workers: Workers[] = [];

  afterAll(async () => {
    for (const w of workers) await w.close(500);
    await runtimes[0]?.queue.obliterate({ force: true }).catch(() => undefined);
    for (const r of runtimes) await r.close();
    if (config) rmSync(config.dataDir, { recursive: true, force: true });
  });

  it("ends with each document's latest version indexed, once, and reconcile clean", async () => {
    config = testConfig({ ingest: { parseProcesses: 1 } });
    for (let i = 0; i < 2; i += 1) {
      const runtime = await openRuntime(config);
      runtimes.push(runtime);
      workers.push(await startWorkers(runtime));
    }
    const ids = ["alpha", "beta", "gamma"];
    const submit = async (runtime: Runtime, id: string, text: string) => {
      const key = uploadKey(randomUUID());
      await runtime.store.put(key, text);
      const submitted = await submitDocument({ config: runtime.config, store: runtime.store, queue: runtime.queue }, { documentId: id, mode: "upsert", upload: { key, size: text.length, filename: `${id}.md`, contentType: "text/markdown" }, tags: [] });
      return { ...submitted, text };
    };
    // Three rounds; in each, both runtimes replace every id at once with texts of their own.
    const submitted: Array<Awaited<ReturnType<typeof submit>>> = [];
    const rounds = 3;
    for (let round = 0; round < rounds; round += 1) {
      submitted.push(...(await Promise.all(ids.flatMap((id, i) => runtimes.map((runtime, r) => submit(runtime, id, sectioned(100 + round * 10 + i * 2 + r, 3)))))));
    }
    const [runtime] = runtimes;
    if (!runtime) throw new Error("no runtime");
    await until(async () => {
      const states = await Promise.all(submitted.map(async (s) => (await runtime.queue.getJob(s.jobId))?.getState()));
      return states.every((s) => s === "completed" || s === "failed") ? true : undefined;
    }, "every replace's job to finish");
    expect(await until(() => allTerminal(runtime, ids), "every document to reach a terminal state")).toEqual(Object.fromEntries(ids.map((id) => [id, "indexed"])));

    // Each document's manifest is its latest version, with that version's text.
    for (const id of ids) {
      const record = await getDocument({ store: runtime.store }, id);
      const manifest = await readManifest(runtime.store, profileKey(config), id);
      expect(manifest?.version, id).toBe(record.version);
      const latest = submitted.find((s) => s.documentId === id && s.version === record.version);
      expect(manifest?.chunks.map((c) => c.hash), id).toEqual(manifestOf(config, profileKey(config), id, latest?.text ?? "").chunks.map((c) => c.hash));
    }
    await expectReconcileClean(runtime);
    const damage = await corpusDamage(runtime);
    recordTally({ scenario: "two workers racing replaces of the same ids", faults: rounds, recoveries: rounds, ...damage });
    expect(damage).toEqual({ lost: 0, duplicates: 0 });
  });
});
