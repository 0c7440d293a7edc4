import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deleteDocument, indexContents, putDocument, startStack } from "./support/stack.js";

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

describe("incremental sync equivalence", () => {
  it("leaves the index holding what a from-scratch ingest of the final corpus holds, after any sequence of puts and deletes", async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 2, maxLength: 7 }), async (ops) => {
        const incremental = await startStack();
        const corpus = new Map<string, string>();
        try {
          for (const o of ops) {
            const id = `doc${o.doc}`;
            if (o.kind === "put") {
              const job = await putDocument(incremental.url, id, render(o.sections));
              expect(job.state, job.failedReason).toBe("completed");
              corpus.set(id, render(o.sections));
            } else if (corpus.has(id)) {
              expect((await deleteDocument(incremental.url, id)).state).toBe("completed");
              corpus.delete(id);
            }
          }
          const actual = await indexContents(incremental);
          const scratch = await startStack();
          try {
            for (const [id, text] of [...corpus].sort()) await putDocument(scratch.url, id, text);
            const expected = await indexContents(scratch);
            expect([...actual.keys()].sort()).toEqual([...expected.keys()].sort());
            for (const [id, text] of expected) expect(actual.get(id)).toBe(text);
          } finally {
            await scratch.stop();
          }
        } finally {
          await incremental.stop();
        }
      }),
      { numRuns: 6 },
    );
  }, 240_000);
});
