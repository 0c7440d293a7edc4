import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { Storage } from "@google-cloud/storage";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ConflictError, RagopsError, UnavailableError } from "../../core/errors.js";
import { readJson, updateJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { readAlias, swapLive } from "../../indexer/lifecycle/alias.js";
import { objectStoreConformance } from "../../test/conformance/object-store.js";
import { startGcsEmulator, type GcsEmulator } from "../dev/gcs-emulator.js";
import { createGcsStore, type GcsStoreOptions } from "./gcs.js";

const BUCKET = "ragops-test";
let emulator: GcsEmulator;
beforeAll(async () => {
  emulator = await startGcsEmulator();
});
afterAll(async () => {
  await emulator.close();
});

/** A store on the emulator under a prefix of its own; small thresholds, so streamed bodies go up in chunks and lists take several pages. */
function gcsStore(overrides: Partial<GcsStoreOptions> = {}): ObjectStore {
  return createGcsStore({
    bucket: BUCKET,
    prefix: `run-${randomUUID()}`,
    apiEndpoint: emulator.url,
    projectId: "test",
    resumableThresholdBytes: 64 * 1024,
    uploadChunkBytes: 256 * 1024,
    listPageSize: 2,
    ...overrides,
  });
}

objectStoreConformance("gcs (emulator)", async () => gcsStore());

/** The kinds of the requests the emulator answered while `run` ran. */
async function requestsDuring(run: () => Promise<unknown>): Promise<string[]> {
  const start = emulator.requests.length;
  await run();
  return emulator.requests.slice(start).map((r) => `${r.kind} ${r.status}`);
}

describe("GCS store uploads", () => {
  it("sends a body below the threshold, in memory or streamed, in one multipart request", async () => {
    const store = gcsStore();
    expect(await requestsDuring(() => store.put("small.json", "{}"))).toEqual(["upload 200"]);
    expect(await requestsDuring(() => store.put("small.bin", Readable.from([Buffer.alloc(1000), Buffer.alloc(1000)])))).toEqual(["upload 200"]);
  });

  it("sends a larger stream by resumable upload in chunks (308 and Range until the last)", async () => {
    const store = gcsStore();
    const body = Buffer.alloc(600 * 1024, 7);
    const requests = await requestsDuring(() => store.put("large.bin", Readable.from([body.subarray(0, 100_000), body.subarray(100_000)])));
    expect(requests).toEqual(["resumable-start 200", "resumable-chunk 308", "resumable-chunk 308", "resumable-chunk 200"]);
    expect((await store.get("large.bin")).body.equals(body)).toBe(true);
  });

  it("sends a large body in one resumable request when chunking is off", async () => {
    const store = gcsStore({ uploadChunkBytes: 0 });
    const requests = await requestsDuring(() => store.put("large.bin", Buffer.alloc(600 * 1024, 1)));
    expect(requests).toEqual(["resumable-start 200", "resumable-chunk 200"]);
  });

  it("refuses a create-only resumable upload of an existing object before sending its body", async () => {
    const store = gcsStore();
    await store.put("large.bin", Buffer.alloc(100 * 1024, 1));
    const requests = await requestsDuring(() => expect(store.put("large.bin", Buffer.alloc(100 * 1024, 2), { ifGenerationMatch: 0 })).rejects.toBeInstanceOf(ConflictError));
    expect(requests).toEqual(["resumable-start 412"]);
  });

  it("releases a streamed body it could not upload (a refused create-only), so its source is not left half read", async () => {
    const store = gcsStore();
    await store.put("taken.bin", "first");
    let pushed = 0;
    const body = new Readable({
      read() {
        pushed += 1;
        this.push(pushed <= 64 ? Buffer.alloc(16 * 1024, 1) : null);
      },
    });
    await expect(store.put("taken.bin", body, { ifGenerationMatch: 0 })).rejects.toBeInstanceOf(ConflictError);
    expect(body.destroyed).toBe(true);
  });

  it("lists only objects whose names are keys, so a folder placeholder or a dot file another tool left is not a record", async () => {
    const prefix = `foreign-${randomUUID()}`;
    const store = gcsStore({ prefix });
    await store.put("documents/a.json", "{}");
    const bucket = new Storage({ apiEndpoint: emulator.url, projectId: "test" }).bucket(BUCKET);
    for (const name of ["documents/", "documents/.DS_Store", "documents//b.json"]) await bucket.file(`${prefix}/${name}`).save("x", { resumable: false });
    const keys: string[] = [];
    for await (const meta of store.list("documents/")) keys.push(meta.key);
    expect(keys).toEqual(["documents/a.json"]);
  });

  it("keeps keys under the store's prefix, so two prefixes sharing a start never see each other", async () => {
    const tag = randomUUID();
    const a = gcsStore({ prefix: `tenant-${tag}/a` });
    const ab = gcsStore({ prefix: `tenant-${tag}/ab/` });
    const written = await a.put("x/y.json", "a");
    await ab.put("x/y.json", "ab");
    expect(emulator.generationOf(BUCKET, `tenant-${tag}/a/x/y.json`)).toBe(written.generation);
    const keys: string[] = [];
    for await (const meta of a.list("")) keys.push(meta.key);
    expect(keys).toEqual(["x/y.json"]);
    expect((await ab.get("x/y.json")).body.toString()).toBe("ab");
  });
});

describe("GCS store errors", () => {
  it("names the bucket and the missing permission when GCS refuses a read or a write (403), and does not retry it", async () => {
    const store = gcsStore({ maxRetries: 0 });
    await store.put("k.json", "{}");
    emulator.failNext(403, { message: "ragops@p.iam.gserviceaccount.com does not have storage.objects.get access" });
    const read = await store.get("k.json").catch((error: unknown) => error);
    expect(read).toBeInstanceOf(RagopsError);
    expect(read).toMatchObject({ retryable: false, details: { bucket: BUCKET, permission: "storage.objects.get" } });
    expect((read as Error).message).toMatch(new RegExp(`storage\\.objects\\.get on bucket ${BUCKET}.*roles/storage\\.objectAdmin`));
    emulator.failNext(403);
    await expect(store.put("k.json", "{}")).rejects.toThrow(/storage\.objects\.create/);
    emulator.failNext(401);
    await expect(store.head("k.json")).rejects.toThrow(/Application Default Credentials/);
  });

  it("calls a 503 and an unreachable endpoint unavailable and retryable", async () => {
    const store = gcsStore({ maxRetries: 0 });
    emulator.failNext(503);
    await expect(store.head("k.json")).rejects.toSatisfy((error) => error instanceof UnavailableError && error.retryable);
    const closed = await startGcsEmulator();
    await closed.close();
    const unreachable = gcsStore({ apiEndpoint: closed.url, maxRetries: 0 });
    const error = await unreachable.get("k.json").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UnavailableError);
    expect((error as Error).message).toMatch(/cannot reach GCS .*ECONNREFUSED/);
  });

  it("still retries a transient error after an unconditional delete overlapped an upload (the client's shared autoRetry flag)", async () => {
    const store = gcsStore({ resumableThresholdBytes: 1024 });
    await store.put("cleanup.bin", "left by a refused upload");
    // An unconditional delete turns the client's autoRetry off while it is in flight...
    const stalled = emulator.stallNext("delete");
    const cleanup = store.delete("cleanup.bin");
    await stalled.reached;
    // ...and an upload that starts meanwhile turns it back to what it saw when it started: off, for good.
    const body = new Readable({ read() {} });
    const upload = store.put("report.json", body, { ifGenerationMatch: 0 });
    stalled.release();
    expect(await cleanup).toBe(true);
    body.push(Buffer.alloc(4096, 1));
    body.push(null);
    await upload;
    emulator.failNext(503);
    expect(await store.head("report.json")).toMatchObject({ size: 4096 });
  });

  it("says which bucket does not exist", async () => {
    const strict = await startGcsEmulator({ buckets: ["exists"] });
    try {
      const store = createGcsStore({ bucket: "missing", apiEndpoint: strict.url, projectId: "test", maxRetries: 0 });
      const listing = (async () => {
        for await (const meta of store.list("")) return meta;
      })();
      await expect(listing).rejects.toThrow("bucket gs://missing does not exist");
    } finally {
      await strict.close();
    }
  });

  it("says what a 412 expected", async () => {
    const store = gcsStore();
    const v1 = await store.put("cas.json", "1");
    await store.put("cas.json", "2");
    await expect(store.put("cas.json", "3", { ifGenerationMatch: v1.generation })).rejects.toThrow(`expected it to be at generation ${v1.generation}`);
    await expect(store.put("cas.json", "3", { ifGenerationMatch: 0 })).rejects.toThrow("expected it not to exist yet");
  });
});

describe("compare-and-swap on GCS through two adapter instances (two processes)", () => {
  it("never loses an update, however the reads and writes of concurrent updates interleave", async () => {
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(fc.tuple(fc.integer({ min: 1, max: 1000 }), fc.boolean()), { minLength: 1, maxLength: 8 }), fc.boolean(), async (s, writers, exists) => {
        const prefix = `cas-${randomUUID()}`;
        const instances = [gcsStore({ prefix }), gcsStore({ prefix })];
        if (exists) await updateJson(instances[0] as ObjectStore, "sum.json", () => ({ total: 0, applied: [] as number[] }));
        // Each instance has its own client; the scheduler decides when each answer (a value or an error) reaches its writer.
        const deliver = <T>(call: Promise<T>, label: string): Promise<T> =>
          s.schedule(call.then((value) => ({ value }), (error: unknown) => ({ error })), label).then((answer) => {
            if ("error" in answer) throw answer.error;
            return answer.value;
          });
        const [first, second] = instances.map((store): ObjectStore => ({
          ...store,
          get: (key) => deliver(store.get(key), `get ${key}`),
          put: (key, body, options) => deliver(store.put(key, body, options), `put ${key}`),
        })) as [ObjectStore, ObjectStore];
        const updates = Promise.all(
          writers.map(([amount, onSecond], i) =>
            updateJson<{ total: number; applied: number[] }>(onSecond ? second : first, "sum.json", (current) => ({ total: (current?.total ?? 0) + amount, applied: [...(current?.applied ?? []), i] })),
          ),
        );
        const results = await s.waitFor(updates);
        const final = (await readJson<{ total: number; applied: number[] }>(gcsStore({ prefix }), "sum.json"))?.value;
        expect(final?.total).toBe(writers.reduce((sum, [amount]) => sum + amount, 0));
        expect([...(final?.applied ?? [])].sort((x, y) => x - y)).toEqual(writers.map((_, i) => i));
        expect(new Set(results.map((r) => r.after.generation)).size).toBe(writers.length);
      }),
      { numRuns: 20 },
    );
  });

  it("lets exactly one of many concurrent alias swaps win", async () => {
    const prefix = `alias-${randomUUID()}`;
    const stores = [gcsStore({ prefix }), gcsStore({ prefix })];
    await swapLive(stores[0] as ObjectStore, { to: "blue", expectedVersion: null, actor: "ops" });
    const attempts = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => swapLive(stores[i % 2] as ObjectStore, { to: `green-${i}`, expectedVersion: "blue", actor: `operator-${i}` })));
    const winners = attempts.filter((a) => a.status === "fulfilled");
    expect(winners).toHaveLength(1);
    expect(attempts.filter((a) => a.status === "rejected" && a.reason instanceof ConflictError)).toHaveLength(9);
    expect((await readAlias(stores[1] as ObjectStore)).alias).toMatchObject({ previous: "blue" });
  });
});

describe("GCS store with STORAGE_EMULATOR_HOST instead of apiEndpoint", () => {
  it("works through the client's /b/... paths", async () => {
    const saved = process.env.STORAGE_EMULATOR_HOST;
    process.env.STORAGE_EMULATOR_HOST = emulator.url;
    try {
      const store = createGcsStore({ bucket: BUCKET, prefix: `env-${randomUUID()}`, projectId: "test" });
      const meta = await store.put("a.json", "{}", { ifGenerationMatch: 0 });
      expect((await store.get("a.json")).meta.generation).toBe(meta.generation);
      const keys: string[] = [];
      for await (const listed of store.list("")) keys.push(listed.key);
      expect(keys).toEqual(["a.json"]);
      expect(await store.delete("a.json", { ifGenerationMatch: meta.generation })).toBe(true);
    } finally {
      if (saved === undefined) delete process.env.STORAGE_EMULATOR_HOST;
      else process.env.STORAGE_EMULATOR_HOST = saved;
    }
  });
});
