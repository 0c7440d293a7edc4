import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { profileKey, registryPrefix } from "../indexer/sync/profile.js";
import { createChunkRegistry } from "../indexer/sync/registry.js";
import { readManifest } from "../indexer/sync/manifest.js";
import { corpusLockKey } from "../indexer/sync/corpus-lock.js";
import { chunkStoreIds, deleteDocument, indexContents, putDocument, startStack, uploadDocument, waitForJob, type Stack } from "./support/stack.js";

/** Sections drawn from a small pool, so documents share chunks and an edit can drop or add shared text. */
function section(i: number): string {
  const words = "amber basalt cobalt delta ember fjord granite harbor iris juniper kestrel lagoon meadow nickel orchid pebble quartz raven sierra tundra".split(" ");
  let state = (i + 1) * 2654435761;
  const out: string[] = [];
  for (let k = 0; k < 70; k += 1) {
    state = (Math.imul(state ^ (state >>> 13), 0x5bd1e995) + 0x6b43a9b5) >>> 0;
    out.push(`${words[state % words.length]}${(state >>> 8) % 89}`);
  }
  return `## Topic ${i}\n\n${out.join(" ")}.`;
}

const render = (sections: number[]) => `# Document\n\nThis document collects topics for the equivalence test.\n\n${sections.map(section).join("\n\n")}\n`;

type Op = { kind: "put"; doc: number; sections: number[] } | { kind: "delete"; doc: number };
const op: fc.Arbitrary<Op> = fc.oneof(
  { weight: 3, arbitrary: fc.record({ kind: fc.constant("put" as const), doc: fc.integer({ min: 0, max: 3 }), sections: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant("delete" as const), doc: fc.integer({ min: 0, max: 3 }) }) },
);

async function apply(stack: Stack, ops: Op[]): Promise<Map<string, string>> {
  const corpus = new Map<string, string>();
  for (const o of ops) {
    const id = `doc${o.doc}`;
    if (o.kind === "put") {
      const job = await putDocument(stack.url, id, render(o.sections));
      expect(job.state, job.failedReason).toBe("completed");
      corpus.set(id, render(o.sections));
    } else if (corpus.has(id)) {
      expect((await deleteDocument(stack.url, id)).state).toBe("completed");
      corpus.delete(id);
    }
  }
  return corpus;
}

describe("incremental sync equivalence", () => {
  it("leaves the index holding what a from-scratch ingest of the final corpus holds, after any sequence of puts and deletes", async () => {
    // Exact equality needs near-duplicate detection off: with it on, which of two near-identical chunks
    // is indexed depends on which came first (the next property covers that case).
    const settings = { dedupe: { nearDuplicates: false } };
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 2, maxLength: 7 }), async (ops) => {
        const incremental = await startStack(settings);
        try {
          const corpus = await apply(incremental, ops);
          await expectSameAsFromScratch(incremental, corpus, settings);
        } finally {
          await incremental.stop();
        }
      }),
      { numRuns: 6 },
    );
  }, 240_000);

  it("with near-duplicates on, keeps every chunk of every document findable and nothing unreferenced in the index", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 2, maxLength: 7 }), async (ops) => {
        const stack = await startStack();
        try {
          const corpus = await apply(stack, ops);
          const profile = profileKey(stack.config);
          const registry = createChunkRegistry(stack.runtime.redis, registryPrefix(stack.config.redis.prefix, profile));
          const indexed = await indexContents(stack);
          const referenced = new Set<string>();
          for (const id of corpus.keys()) {
            const manifest = await readManifest(stack.runtime.store, profile, id);
            const hashes = manifest?.chunks.map((c) => c.hash) ?? [];
            expect(hashes.length).toBeGreaterThan(0);
            const dupOf = await registry.dupOf(hashes);
            for (const h of hashes) {
              referenced.add(h);
              // Indexed itself, or a near-duplicate of an indexed chunk that stands in for it.
              const standIn = indexed.has(h) ? h : dupOf.get(h);
              expect(standIn !== undefined && indexed.has(standIn), `chunk ${h.slice(0, 8)} of ${id} is findable`).toBe(true);
            }
          }
          for (const id of indexed.keys()) expect(referenced.has(id), `indexed chunk ${id.slice(0, 8)} is referenced`).toBe(true);
          // The chunk store holds an entry for exactly the indexed chunks: none left behind by a removal.
          expect(new Set(await chunkStoreIds(stack))).toEqual(new Set(indexed.keys()));
        } finally {
          await stack.stop();
        }
      }),
      { numRuns: 6 },
    );
  }, 240_000);

  it("ends where a one-at-a-time ingest ends when many documents are written together in commit groups", async () => {
    // Rounds of puts of distinct documents (new ones and edits of earlier ones) submitted at once to a worker running
    // six jobs. The test holds the corpus lock until every job of the round is waiting for it, so the round's
    // documents commit in groups (indexer/sync/commit-group.ts): one lease and one index write for several documents.
    const settings = { dedupe: { nearDuplicates: false }, queue: { backoffMs: 50, concurrency: 6 } };
    const put = fc.record({ doc: fc.integer({ min: 0, max: 7 }), sections: fc.array(fc.integer({ min: 0, max: 7 }), { minLength: 1, maxLength: 4 }) });
    const round = fc.uniqueArray(put, { selector: (o) => o.doc, minLength: 2, maxLength: 6 });
    await fc.assert(
      fc.asyncProperty(fc.array(round, { minLength: 1, maxLength: 3 }), async (rounds) => {
        const grouped = await startStack(settings);
        const lockKey = corpusLockKey(grouped.config.redis.prefix, profileKey(grouped.config));
        try {
          const corpus = new Map<string, string>();
          for (const puts of rounds) {
            await grouped.runtime.redis.set(lockKey, "held by the test", "PX", 60_000);
            const jobIds = await Promise.all(
              puts.map(async ({ doc, sections }) => {
                corpus.set(`doc${doc}`, render(sections));
                const response = await uploadDocument(grouped.url, { name: `doc${doc}.md`, content: render(sections) }, {}, "PUT", `/v1/documents/doc${doc}`);
                return ((await response.json()) as { jobId: string }).jobId;
              }),
            );
            await waitUntilAllIndexing(grouped, jobIds);
            await grouped.runtime.redis.del(lockKey);
            for (const id of jobIds) expect((await waitForJob(grouped.url, id)).state).toBe("completed");
          }
          await expectSameAsFromScratch(grouped, corpus, settings);
          expect(new Set(await chunkStoreIds(grouped))).toEqual(new Set((await indexContents(grouped)).keys()));
        } finally {
          await grouped.stop();
        }
      }),
      { numRuns: 5 },
    );
  }, 240_000);
});

/** The stack's index holds exactly what a from-scratch ingest of the final corpus, one document at a time, holds. */
async function expectSameAsFromScratch(stack: Stack, corpus: ReadonlyMap<string, string>, settings: Record<string, unknown>): Promise<void> {
  const actual = await indexContents(stack);
  const scratch = await startStack(settings);
  try {
    for (const [id, text] of [...corpus].sort()) await putDocument(scratch.url, id, text);
    const expected = await indexContents(scratch);
    expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
    for (const [id, text] of expected) expect(actual.get(id)).toBe(text);
  } finally {
    await scratch.stop();
  }
}

/** Waits until every job has embedded its document and reached the corpus lock (its progress says indexing), or finished. */
async function waitUntilAllIndexing(stack: Stack, jobIds: readonly string[]): Promise<void> {
  for (;;) {
    const jobs = await Promise.all(jobIds.map((id) => stack.runtime.queue.getJob(id)));
    const waiting = await Promise.all(jobs.map(async (job) => (job ? (await job.isCompleted()) || (job.progress as { stage?: string } | undefined)?.stage === "indexing" : false)));
    if (waiting.every(Boolean)) return;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
}
