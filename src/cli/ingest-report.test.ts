import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { JobOutcome } from "../documents/ingest-files.js";
import { formatColumns, formatIngestReport, formatInterruption, formatSummary, summarizeIngest, type IngestInput } from "./ingest-report.js";

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;

const counts = (chunks: number, embedded: number, cacheHits: number, nearDuplicates = 0) => ({ chunks, embedded, cacheHits, nearDuplicates, unchanged: 0, added: chunks });
const completed = (jobId: string, result: unknown): JobOutcome => ({ jobId, state: "completed", result });

const input: IngestInput = {
  submitted: [
    { documentId: "a", version: 1, jobId: "j-a" },
    { documentId: "b", version: 2, jobId: "j-b" },
    { documentId: "c", version: 1, jobId: "j-c" },
    { documentId: "d", version: 3, jobId: "j-d" },
    { documentId: "e", version: 1, jobId: "j-e" },
  ],
  rejected: [{ path: "big.pdf", reason: "upload too large" }],
  skipped: [{ path: "logo.png", reason: "no parser for .png files" }],
  outcomes: new Map<string, JobOutcome>([
    ["j-a", completed("j-a", { outcome: "indexed", ...counts(10, 8, 2, 1) })],
    ["j-b", { jobId: "j-b", state: "failed", failedReason: "not a PDF:\n  the bytes are text" }],
    ["j-c", completed("j-c", { outcome: "unchanged", ...counts(4, 0, 0) })],
    ["j-d", completed("j-d", { outcome: "stale", ...counts(0, 0, 0) })],
  ]),
  wallMs: 2_000,
};

describe("the ingest summary", () => {
  it("puts each document in one state, and sums the chunks of the documents that completed", () => {
    const summary = summarizeIngest(input);
    expect(summary.documents).toEqual({ total: 7, indexed: 1, unchanged: 1, failed: 2, skipped: 2, pending: 1 });
    expect(summary.chunks).toEqual({ total: 14, embedded: 8, cacheHits: 2, nearDuplicates: 1 });
    expect(summary.lines.map((l) => [l.document, l.state, l.detail])).toEqual([
      ["a", "indexed", "8 embedded, 2 cache hits, 1 near-duplicate"],
      ["b", "failed", "not a PDF: the bytes are text"],
      ["c", "unchanged", ""],
      ["d", "skipped", "a newer version of the document replaced this one"],
      ["e", "pending", "job j-e still queued or running"],
      ["big.pdf", "failed", "upload too large"],
      ["logo.png", "skipped", "no parser for .png files"],
    ]);
  });

  it("reads a job result it does not recognise as a document indexed with no chunk counts", () => {
    const summary = summarizeIngest({ ...input, submitted: [{ documentId: "x", version: 1, jobId: "j-x" }], rejected: [], skipped: [], outcomes: new Map([["j-x", completed("j-x", "surprise")]]) });
    expect(summary.documents).toMatchObject({ total: 1, indexed: 1 });
    expect(summary.chunks.total).toBe(0);
  });

  it("counts every document once: the states add up to the total, and one line each", () => {
    const outcome = fc.oneof(
      fc.constant(undefined),
      fc.record({ state: fc.constant("failed" as const), failedReason: fc.string() }),
      fc.record({ state: fc.constant("completed" as const), result: fc.oneof(fc.anything(), fc.record({ outcome: fc.constantFrom("indexed", "unchanged", "stale"), chunks: fc.nat() })) }),
    );
    fc.assert(
      fc.property(fc.array(outcome, { maxLength: 30 }), fc.nat(5), fc.nat(5), (outcomes, rejected, skipped) => {
        const submitted = outcomes.map((_, i) => ({ documentId: `d${i}`, version: 1, jobId: `j${i}` }));
        const map = new Map<string, JobOutcome>();
        outcomes.forEach((o, i) => o && map.set(`j${i}`, { jobId: `j${i}`, ...o }));
        const problems = (n: number, what: string) => Array.from({ length: n }, (_, i) => ({ path: `${what}${i}`, reason: what }));
        const summary = summarizeIngest({ submitted, rejected: problems(rejected, "r"), skipped: problems(skipped, "s"), outcomes: map, wallMs: 1 });
        const { total, ...states } = summary.documents;
        expect(Object.values(states).reduce((a, b) => a + b, 0)).toBe(total);
        expect(summary.lines).toHaveLength(total);
        expect(summary.chunks.total).toBeGreaterThanOrEqual(0);
      }),
    );
  });

  it("reads documents, chunks and time on three lines, with thousands separated and a pending count only when some are", () => {
    expect(formatSummary(summarizeIngest(input))).toBe(
      ["documents  7 found: 1 indexed, 1 unchanged, 2 failed, 2 skipped, 1 pending", "chunks     14 total: 8 embedded, 2 cache hits, 1 near-duplicate", "time       2.0 s: 2.0 documents/s, 7.0 chunks/s"].join("\n"),
    );
    const big = summarizeIngest({
      submitted: [{ documentId: "a", version: 1, jobId: "j-a" }],
      rejected: [],
      skipped: [],
      outcomes: new Map([["j-a", completed("j-a", { outcome: "indexed", ...counts(10_847, 10_702, 120, 25) })]]),
      wallMs: 43_500,
    });
    expect(formatSummary(big)).toBe(
      ["documents  1 found: 1 indexed, 0 unchanged, 0 failed, 0 skipped", "chunks     10,847 total: 10,702 embedded, 120 cache hits, 25 near-duplicates", "time       43.5 s: 0.02 documents/s, 249 chunks/s"].join("\n"),
    );
  });
});

describe("the ingest report", () => {
  it("starts with the summary, then lists only the failures, each with its reason, and says how to see the rest", () => {
    const text = formatIngestReport(summarizeIngest(input));
    expect(text.startsWith(formatSummary(summarizeIngest(input)))).toBe(true);
    expect(text).toMatch(/^failed: 2 of 7 documents \(--all lists every document\)$/m);
    expect(text).toMatch(/^document {2,}reason$/m);
    expect(text).toMatch(/^b {2,}not a PDF: the bytes are text$/m);
    expect(text).toMatch(/^big\.pdf {2,}upload too large$/m);
    for (const other of [/^a /m, /^c /m, /^d /m, /^e /m, /logo\.png/]) expect(text).not.toMatch(other);
  });

  it("lists every document with its version, state, chunks and detail under --all", () => {
    const text = formatIngestReport(summarizeIngest(input), { all: true });
    expect(text).toMatch(/^document +version +state +chunks +detail$/m);
    expect(text).toMatch(/^a +1 +indexed +10 +8 embedded, 2 cache hits, 1 near-duplicate$/m);
    expect(text).toMatch(/^e +1 +pending +job j-e still queued or running$/m);
    expect(text).toMatch(/^logo\.png +- +skipped +no parser for \.png files$/m);
    expect(text).not.toMatch(/--all lists/);
  });

  it("says so when nothing failed, rather than printing an empty table", () => {
    const text = formatIngestReport(summarizeIngest({ ...input, submitted: input.submitted.slice(0, 1), rejected: [] }));
    expect(text).toMatch(/^no failures \(--all lists every document\)$/m);
    expect(text).not.toMatch(/^document +reason/m);
  });

  it("keeps one line per document at ten thousand documents, a few lines when only failures are listed, and takes well under a second", () => {
    const submitted = Array.from({ length: 10_000 }, (_, i) => ({ documentId: `doc-${i}`, version: 1, jobId: `j${i}` }));
    const outcomes = new Map<string, JobOutcome>(submitted.map((s, i) => [s.jobId, i % 4_000 === 7 ? { jobId: s.jobId, state: "failed", failedReason: "bad\nbytes" } : completed(s.jobId, { outcome: "indexed", ...counts(5, 5, 0) })]));
    const summary = summarizeIngest({ submitted, rejected: [], skipped: [], outcomes, wallMs: 60_000 });
    const started = performance.now();
    expect(formatIngestReport(summary).split("\n")).toHaveLength(3 + 2 + 1 + 3);
    // Summary (3), a blank and a title line, the header, then the rows.
    expect(formatIngestReport(summary, { all: true }).split("\n")).toHaveLength(3 + 2 + 1 + 10_000);
    expect(performance.now() - started).toBeLessThan(1_000);
  });

  it("aligns columns to the widest value, caps a very long name's padding, and right-aligns chunk counts", () => {
    expect(formatColumns(["document", "chunks", "detail"], [["a", "5", "x"], ["bbbbbbbbbb", "1,234", ""]], { rightAligned: [1] }).split("\n")).toEqual([
      "document    chunks  detail",
      "a                5  x",
      "bbbbbbbbbb   1,234",
    ]);
    const long = "n".repeat(100);
    const [, row] = formatColumns(["document", "reason"], [[long, "why"], ["short", "why"]]).split("\n");
    expect(row).toBe(`${long}  why`);
  });

  it("has no terminal escape codes", () => {
    expect(formatIngestReport(summarizeIngest(input), { all: true })).not.toMatch(ANSI);
  });
});

describe("the note after an interrupted ingest", () => {
  const summary = summarizeIngest(input);

  it("says how many queued documents are pending, that their jobs go on in the workers, and how to follow them", () => {
    const text = formatInterruption(summary, { submitted: input.submitted, notSubmitted: 0, ownWorker: false });
    expect(text.split("\n")).toEqual([
      "ingest: interrupted: 1 of 5 queued documents still pending.",
      "  Their jobs keep running in the `ragops worker` processes.",
      "  Follow them with GET /v1/documents/<id> or GET /v1/jobs/<job id> on `ragops serve` (e.g. /v1/jobs/j-e); --all lists each with its job.",
    ]);
  });

  it("says the jobs wait for another worker when the command ran its own, and that files never submitted need another run", () => {
    const text = formatInterruption(summary, { submitted: input.submitted, notSubmitted: 12, ownWorker: true, all: true });
    expect(text).toMatch(/^ingest: interrupted: 1 of 5 queued documents still pending, 12 files not submitted\.$/m);
    expect(text).toMatch(/this command's worker stops now, and any `ragops worker` on the same Redis runs them/);
    expect(text).not.toMatch(/--all/);
    expect(text).toMatch(/Run the same `ragops ingest` again to submit the rest/);
  });
});
