import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { deleteJobId, ingestJobId } from "../queues/ingest-queue.js";
import type { JobOutcome } from "./ingest-files.js";
import { documentIdOfJob, tallyOutcomes, type RefreshSummary } from "./refresh.js";

const idChar = fc.constantFrom(..."abcXYZ019._-".split(""));
const documentId = fc.tuple(fc.constantFrom(..."aZ0".split("")), fc.array(idChar, { maxLength: 40 })).map(([first, rest]) => `${first}${rest.join("")}`);

function emptySummary(): RefreshSummary {
  return {
    source: "file:///docs",
    dryRun: false,
    scanned: 0,
    unchanged: 0,
    changed: 0,
    added: 0,
    deleted: 0,
    failed: 0,
    quarantined: 0,
    chunksEmbedded: 0,
    indexWrites: 0,
    metadataWrites: 0,
    indexRemovals: 0,
    seconds: 0,
    details: { changed: [], added: [], deleted: [], failures: [] },
  };
}

describe("refresh tally", () => {
  it("finds the document of any ingest or delete job id, whatever the id holds ('-v1-', dots, dashes)", () => {
    fc.assert(
      fc.property(documentId, fc.integer({ min: 1, max: 1_000_000 }), fc.boolean(), (id, version, ingest) => {
        expect(documentIdOfJob((ingest ? ingestJobId : deleteJobId)(id, version))).toBe(id);
      }),
    );
    expect(documentIdOfJob(ingestJobId("a-v1-beef", 2))).toBe("a-v1-beef");
  });

  it("adds completed jobs' counts and lists failed jobs after the failures already there", () => {
    const summary = emptySummary();
    summary.details.failures.push({ documentId: "refused", reason: "too large" });
    const outcomes: JobOutcome[] = [
      { jobId: ingestJobId("a", 1), state: "completed", result: { embedded: 3, indexWrites: 3, metadataWrites: 1, indexRemovals: 0 } },
      { jobId: deleteJobId("b", 2), state: "completed", result: { indexRemovals: 4 } },
      { jobId: ingestJobId("c", 1), state: "failed", failedReason: "not a PDF" },
      { jobId: ingestJobId("d", 1), state: "failed" },
      { jobId: ingestJobId("e", 1), state: "completed" },
    ];
    tallyOutcomes(summary, outcomes);
    expect(summary).toMatchObject({ chunksEmbedded: 3, indexWrites: 3, metadataWrites: 1, indexRemovals: 4, failed: 3 });
    expect(summary.details.failures).toEqual([
      { documentId: "refused", reason: "too large" },
      { documentId: "c", reason: "not a PDF" },
      { documentId: "d", reason: "failed" },
    ]);
  });
});
