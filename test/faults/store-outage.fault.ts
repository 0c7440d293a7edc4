import { afterAll, describe, expect, it } from "vitest";
import { UnavailableError } from "../../core/errors.js";
import type { ObjectStore } from "../../core/object-store.js";
import { listFailures } from "../../src/failures/ledger.js";
import { startServer } from "../../src/http/server.js";
import { openRuntime, type Runtime } from "../../src/runtime.js";
import { startWorkers, type Workers } from "../../src/worker/worker.js";
import { putDocument, searchApi, testConfig } from "../support/stack.js";
import { sectioned } from "../support/sync-fixtures.js";
import { allTerminal, corpusDamage, expectReconcileClean } from "./corpus.js";
import { recordTally } from "./tally.js";

/**
 * The object store refuses writes for a while, as a directory turned
 * read-only or a full tmpfs would (EROFS/ENOSPC surface as UnavailableError):
 * jobs back off past the outage and every document ends indexed.
 */
describe("object store writes failing during ingest", () => {
  let runtime: Runtime | undefined;
  let workers: Workers | undefined;

  afterAll(async () => {
    await workers?.close(500);
    await runtime?.queue.obliterate({ force: true }).catch(() => undefined);
    await runtime?.close();
  });

  it("leaves every document indexed once writes work again, reconcile clean", async () => {
    const outages: number[] = [];
    let refused = 0;
    const failing = (store: ObjectStore): ObjectStore => ({
      ...store,
      put: async (key, body, options) => {
        // Each of the first two documents' manifest writes starts an outage of 1 s, in the middle of its job.
        const now = Date.now();
        const last = outages.at(-1) ?? 0;
        if (key.startsWith("manifests/") && outages.length < 2 && now >= last) outages.push(now + 1_000);
        if (now < (outages.at(-1) ?? 0)) {
          refused += 1;
          throw new UnavailableError(`the object store (a local directory) could not write "${key}": no space left on device (ENOSPC)`);
        }
        return store.put(key, body, options);
      },
    });
    const config = testConfig({ ingest: { parseProcesses: 1 }, queue: { attempts: 8, backoffMs: 200, backoffMaxMs: 1_000 } });
    runtime = await openRuntime(config, { wrapStore: failing });
    workers = await startWorkers(runtime);
    const server = await startServer(runtime);
    try {
      const ids = ["dock", "charger", "battery", "wheels"];
      const jobs = await Promise.all(ids.map((id, i) => putDocument(server.url, id, sectioned(60 + i, 4))));
      expect(jobs.map((j) => j.state)).toEqual(ids.map(() => "completed"));
      expect(outages.length).toBe(2);
      expect(refused).toBeGreaterThan(0);
      expect(await allTerminal(runtime, ids)).toEqual(Object.fromEntries(ids.map((id) => [id, "indexed"])));
      expect(await listFailures(runtime.store)).toEqual([]);

      await expectReconcileClean(runtime);
      const { status, body } = await searchApi(server.url, { query: sectioned(61, 4).split("\n\n")[2] ?? "", k: 1 });
      expect(status).toBe(200);
      expect(body.results[0]?.documentId).toBe("charger");
      const damage = await corpusDamage(runtime);
      recordTally({ scenario: "object store writes failing (2 outages)", faults: outages.length, recoveries: outages.length, ...damage });
      expect(damage).toEqual({ lost: 0, duplicates: 0 });
    } finally {
      await server.close(500);
    }
  });
});
