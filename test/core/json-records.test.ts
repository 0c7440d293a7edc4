import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConflictError, NotFoundError } from "../../core/errors.js";
import { readJson, updateJson, writeJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";

/**
 * The one compare-and-swap helper every small record goes through (document
 * records, index versions, the alias). It lives in core/, which may not import
 * the local-dir adapter, so its tests live here.
 */
const freshStore = () => createLocalDirStore({ root: mkdtempSync(join(tmpdir(), "ragops-json-")) });

/** A store on which another writer always changes the key between our read and our write. */
function alwaysRacing(store: ObjectStore): ObjectStore {
  return {
    ...store,
    put: async (key, body, options) => {
      if (options?.ifGenerationMatch !== undefined) await store.put(key, JSON.stringify({ n: -1 }));
      return store.put(key, body, options);
    },
  };
}

describe("updateJson (compare-and-swap on a JSON record)", () => {
  it("creates an absent record and says there was none before", async () => {
    const store = freshStore();
    const { before, after } = await updateJson<{ n: number }>(store, "r.json", (current) => ({ n: (current?.n ?? 0) + 1 }));
    expect(before).toBeUndefined();
    expect(after.value).toEqual({ n: 1 });
    expect((await readJson(store, "r.json"))?.generation).toBe(after.generation);
  });

  it("returns the record it replaced beside the one it wrote", async () => {
    const store = freshStore();
    const first = await writeJson(store, "r.json", { n: 1 });
    const { before, after } = await updateJson<{ n: number }>(store, "r.json", (current) => ({ n: (current?.n ?? 0) + 1 }));
    expect(before).toEqual(first);
    expect(after.value).toEqual({ n: 2 });
  });

  it("writes nothing when the change leaves the record alone", async () => {
    const store = freshStore();
    const first = await writeJson(store, "r.json", { n: 1 });
    const { before, after } = await updateJson<{ n: number }>(store, "r.json", () => undefined);
    expect(after).toEqual(first);
    expect(before).toEqual(first);
    expect((await readJson(store, "r.json"))?.generation).toBe(first.generation);
  });

  it("lets an error thrown by the change through at once, without retrying or writing", async () => {
    const store = freshStore();
    let calls = 0;
    const refusal = updateJson<{ n: number }>(store, "r.json", () => {
      calls += 1;
      throw new NotFoundError("nothing to change");
    });
    await expect(refusal).rejects.toBeInstanceOf(NotFoundError);
    expect(calls).toBe(1);
    expect(await readJson(store, "r.json")).toBeUndefined();
  });

  it("gives up after maxAttempts lost races with a ConflictError that names the key and the attempts", async () => {
    const store = alwaysRacing(freshStore());
    await writeJson(store, "busy.json", { n: 0 });
    let calls = 0;
    const update = updateJson<{ n: number }>(store, "busy.json", (current) => ((calls += 1), { n: (current?.n ?? 0) + 1 }), { maxAttempts: 3 });
    await expect(update).rejects.toBeInstanceOf(ConflictError);
    await expect(update).rejects.toThrow(/busy\.json.*3 attempts/);
    await expect(update).rejects.toMatchObject({ details: { key: "busy.json", attempts: 3 } });
    expect(calls).toBe(3);
  });

  it("never loses an update, however concurrent updates interleave", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(fc.integer({ min: 1, max: 1000 }), { minLength: 1, maxLength: 12 }), fc.boolean(), async (amounts, exists) => {
        const store = freshStore();
        if (exists) await writeJson(store, "sum.json", { total: 0, applied: [] as number[] });
        // Each writer adds its amount and records its index: a lost update would drop one of both.
        const results = await Promise.all(
          amounts.map((amount, i) =>
            updateJson<{ total: number; applied: number[] }>(store, "sum.json", (current) => ({
              total: (current?.total ?? 0) + amount,
              applied: [...(current?.applied ?? []), i],
            })),
          ),
        );
        const final = (await readJson<{ total: number; applied: number[] }>(store, "sum.json"))?.value;
        expect(final?.total).toBe(amounts.reduce((a, b) => a + b, 0));
        expect([...(final?.applied ?? [])].sort((a, b) => a - b)).toEqual(amounts.map((_, i) => i));
        // Every writer saw a distinct record: the commits are totally ordered.
        expect(new Set(results.map((r) => r.after.generation)).size).toBe(amounts.length);
        expect(results.filter((r) => r.before === undefined)).toHaveLength(exists ? 0 : 1);
      }),
      { numRuns: 15 },
    );
  });
});
