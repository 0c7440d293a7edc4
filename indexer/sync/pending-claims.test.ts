import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { memoryChunkStore, memoryRegistry } from "../../test/support/memory-registry.js";
import type { CorpusLease } from "./corpus-lock.js";
import { holdClaims, partitionClaims } from "./pending-claims.js";
import type { ChunkRegistry } from "./registry.js";

const lease: CorpusLease = { key: "k", token: "t", held: async () => true, release: async () => undefined };
const HASHES = ["h1", "h2", "h3", "h4", "h5"];
const DOCS = ["d1", "d2"];
/** Each chunk in a band of its own and one band shared by its pair, so candidates overlap. */
const bandsOf = (h: string) => [`own-${h}`, `pair-${Number(h.slice(1)) % 2}`];
const signatureOf = (h: string, n: number) => Uint32Array.from([Number(h.slice(1)), n]);

type Op =
  | { kind: "docRefs"; doc: string }
  | { kind: "addRefs"; doc: string; hashes: string[] }
  | { kind: "removeRef"; doc: string; hash: string }
  | { kind: "markCanonical"; hash: string; n: number }
  | { kind: "markCanonicalMany"; hashes: string[]; n: number }
  | { kind: "unmarkCanonical"; hash: string }
  | { kind: "markDuplicate"; hash: string; of: string }
  | { kind: "unmarkDuplicate"; hash: string }
  | { kind: "read" };

const hash = fc.constantFrom(...HASHES);
const doc = fc.constantFrom(...DOCS);
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ kind: fc.constant("docRefs" as const), doc }),
  fc.record({ kind: fc.constant("addRefs" as const), doc, hashes: fc.subarray(HASHES, { minLength: 1 }) }),
  fc.record({ kind: fc.constant("removeRef" as const), doc, hash }),
  fc.record({ kind: fc.constant("markCanonical" as const), hash, n: fc.nat(3) }),
  fc.record({ kind: fc.constant("markCanonicalMany" as const), hashes: fc.subarray(HASHES, { minLength: 1 }), n: fc.nat(3) }),
  fc.record({ kind: fc.constant("unmarkCanonical" as const), hash }),
  fc.record({ kind: fc.constant("markDuplicate" as const), hash, of: hash }).filter((o) => o.hash !== o.of),
  fc.record({ kind: fc.constant("unmarkDuplicate" as const), hash }),
  fc.constant({ kind: "read" as const }),
);

/** Applies one operation; reads return what the registry answers, in a comparable form. */
async function apply(registry: ChunkRegistry, o: Op): Promise<unknown> {
  switch (o.kind) {
    case "docRefs":
      return [...(await registry.docRefs(o.doc))].sort();
    case "addRefs":
      return registry.addRefs(lease, o.doc, o.hashes);
    case "removeRef":
      return registry.removeRef(lease, o.doc, o.hash);
    case "markCanonical":
      return registry.markCanonical(lease, o.hash, signatureOf(o.hash, o.n), bandsOf(o.hash));
    case "markCanonicalMany":
      return registry.markCanonicalMany(lease, o.hashes.map((h) => ({ hash: h, signature: signatureOf(h, o.n), bands: bandsOf(h) })));
    case "unmarkCanonical":
      return registry.unmarkCanonical(lease, o.hash, bandsOf(o.hash));
    case "markDuplicate":
      return registry.markDuplicate(lease, o.hash, o.of);
    case "unmarkDuplicate":
      return registry.unmarkDuplicate(lease, o.hash);
    case "read":
      return {
        dupOf: [...(await registry.dupOf(HASHES))].sort(),
        dupsOf: await Promise.all(HASHES.map(async (h) => [...(await registry.dupsOf(h))].sort())),
        dupsOfMany: [...(await registry.dupsOfMany(HASHES))].map(([h, set]) => [h, [...set].sort()]),
        signatures: [...(await registry.signatures(HASHES))].map(([h, s]) => [h, [...s]]).sort(),
        candidates: (await registry.candidatesMany(HASHES.map(bandsOf))).map((set) => [...set].sort()),
        refs: [...(await registry.refs(HASHES))].map(([h, set]) => [h, [...set].sort()]),
      };
  }
}

describe("canonical claims held back until the index holds their chunks", () => {
  it("answers every read as the registry written directly would, and once settled with every chunk held, leaves the same registry", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), async (ops) => {
        const direct = memoryRegistry();
        const behind = memoryRegistry();
        const held = holdClaims(behind, memoryChunkStore());
        for (const o of ops) expect(await apply(held.registry, o)).toEqual(await apply(direct, o));
        await held.settle(lease, () => true);
        expect(behind.state()).toEqual(direct.state());
      }),
      { numRuns: 500 },
    );
  });

  it("writes no signature or LSH entry of a claim no index holds, and removes its chunk store entry and the references the group added to it", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 30 }), fc.subarray(HASHES), async (ops, indexed) => {
        const behind = memoryRegistry();
        const chunks = memoryChunkStore();
        const held = holdClaims(behind, chunks);
        // Each document's references are read first, as a sync reads them before adding its own.
        for (const d of DOCS) await held.registry.docRefs(d);
        for (const o of ops) await apply(held.registry, o);
        const claimed = new Set((await held.registry.signatures(HASHES)).keys());
        for (const h of claimed) await chunks.put(lease, new Map([[h, { documentId: "d1", documentIds: ["d1"], text: h, title: "", source: "", headingPath: [], tags: [], contentType: "text/plain" }]]));
        const { committed, dropped } = await held.settle(lease, (h) => indexed.includes(h));
        expect(new Set([...committed, ...dropped])).toEqual(claimed);
        const signatures = await behind.signatures(HASHES);
        const candidates = new Set((await behind.candidatesMany(HASHES.map(bandsOf))).flatMap((set) => [...set]));
        for (const h of dropped) {
          expect(signatures.has(h), `${h} has no signature`).toBe(false);
          expect(candidates.has(h), `${h} is in no LSH bucket`).toBe(false);
          expect(chunks.entries.has(h), `${h} has no chunk store entry`).toBe(false);
          expect((await behind.refs([h])).get(h)?.size ?? 0, `${h} has no reference`).toBe(0);
        }
        for (const h of committed) expect(signatures.has(h)).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("drops at once the unheld claims of a document whose work failed, so the next document of the group indexes its near-copy itself", async () => {
    const behind = memoryRegistry();
    const held = holdClaims(behind, memoryChunkStore());
    held.setOwner(0);
    await held.registry.markCanonicalMany(lease, [
      { hash: "h1", signature: signatureOf("h1", 0), bands: bandsOf("h1") },
      { hash: "h2", signature: signatureOf("h2", 0), bands: bandsOf("h2") },
    ]);
    held.setOwner(1);
    await held.registry.markCanonical(lease, "h3", signatureOf("h3", 0), bandsOf("h3"));
    expect(held.dropOwner(0, (h) => h === "h2")).toEqual(["h1"]);
    expect([...(await held.registry.candidatesMany([bandsOf("h1")]))[0] ?? []].sort()).toEqual(["h3"]);
    expect([...(await held.registry.signatures(HASHES)).keys()].sort()).toEqual(["h2", "h3"]);
  });

  it("keeps a promotion's near-duplicate link when the promotion is dropped, and removes it when the promotion is written", async () => {
    for (const indexed of [false, true]) {
      const behind = memoryRegistry();
      await behind.markDuplicate(lease, "h2", "h1");
      const held = holdClaims(behind, memoryChunkStore());
      await held.registry.markCanonical(lease, "h2", signatureOf("h2", 0), bandsOf("h2"));
      await held.registry.unmarkDuplicate(lease, "h2");
      expect(await held.registry.dupOf(["h2"])).toEqual(new Map());
      await held.settle(lease, () => indexed);
      expect(await behind.dupOf(["h2"])).toEqual(indexed ? new Map() : new Map([["h2", "h1"]]));
    }
  });

  it("partitions claims by whether an index holds their chunk", () => {
    expect(partitionClaims(new Map([["a", 1], ["b", 2], ["c", 3]]), (h) => h !== "b")).toEqual({ kept: ["a", "c"], dropped: ["b"] });
  });
});
