import { z } from "zod";
import type { JobOutcome } from "../documents/ingest-files.js";
import { formatCount, formatRate } from "./ingest-progress.js";
import { formatDuration } from "./output.js";

/** A file the service took: the job that indexes its document. */
export interface SubmittedDocument {
  documentId: string;
  version: number;
  jobId: string;
}

/** A file that never became a job: refused at upload (a failure) or not a type any parser reads (skipped). */
export interface FileProblem {
  path: string;
  reason: string;
}

export interface IngestInput {
  submitted: readonly SubmittedDocument[];
  rejected: readonly FileProblem[];
  skipped: readonly FileProblem[];
  outcomes: ReadonlyMap<string, JobOutcome>;
  wallMs: number;
}

/** skipped: nothing to do (a newer upload replaced it, or no parser reads it); pending: its job had not ended when the wait stopped. */
export type DocumentState = "indexed" | "unchanged" | "failed" | "skipped" | "pending";

export interface DocumentLine {
  document: string;
  version?: number;
  state: DocumentState;
  chunks?: number;
  detail: string;
}

export interface IngestSummary {
  documents: { total: number } & Record<DocumentState, number>;
  chunks: { total: number; embedded: number; cacheHits: number; nearDuplicates: number };
  wallMs: number;
  /** One per document: submitted ones in file order, then refused files, then skipped ones. */
  lines: DocumentLine[];
}

/** What an ingest job returns (IngestResult), read leniently: it comes back through Redis, and an unknown shape still means the job completed. */
const jobResultSchema = z.object({
  outcome: z.enum(["indexed", "unchanged", "stale"]).catch("indexed").default("indexed"),
  chunks: z.number().nonnegative().catch(0).default(0),
  embedded: z.number().nonnegative().catch(0).default(0),
  cacheHits: z.number().nonnegative().catch(0).default(0),
  nearDuplicates: z.number().nonnegative().catch(0).default(0),
});
type JobResult = z.infer<typeof jobResultSchema>;

export function readJobResult(result: unknown): JobResult {
  const parsed = jobResultSchema.safeParse(result);
  return parsed.success ? parsed.data : jobResultSchema.parse({});
}

/** Chunks a completed job indexed (for the progress display). */
export const chunksOf = (outcome: JobOutcome) => (outcome.state === "completed" ? readJobResult(outcome.result).chunks : 0);

const plural = (n: number, one: string, many = `${one}s`) => `${formatCount(n)} ${n === 1 ? one : many}`;
/** Failure reasons are often multi-line (stack-like); a table row reads one line. */
const oneLine = (text: string) => text.replace(/\s+/g, " ").trim();

function lineOf(submitted: SubmittedDocument, outcome: JobOutcome | undefined): DocumentLine {
  const base = { document: submitted.documentId, version: submitted.version };
  if (!outcome) return { ...base, state: "pending", detail: `job ${submitted.jobId} still queued or running` };
  if (outcome.state === "failed") return { ...base, state: "failed", detail: oneLine(outcome.failedReason ?? "failed") };
  const result = readJobResult(outcome.result);
  if (result.outcome === "stale") return { ...base, state: "skipped", detail: "a newer version of the document replaced this one" };
  if (result.outcome === "unchanged") return { ...base, state: "unchanged", chunks: result.chunks, detail: "" };
  const detail = [plural(result.embedded, "embedded", "embedded"), plural(result.cacheHits, "cache hit"), ...(result.nearDuplicates ? [plural(result.nearDuplicates, "near-duplicate")] : [])];
  return { ...base, state: "indexed", chunks: result.chunks, detail: detail.join(", ") };
}

/** Every document in exactly one state; chunk figures summed over the documents whose jobs completed. */
export function summarizeIngest(input: IngestInput): IngestSummary {
  const lines: DocumentLine[] = [
    ...input.submitted.map((s) => lineOf(s, input.outcomes.get(s.jobId))),
    ...input.rejected.map((r): DocumentLine => ({ document: r.path, state: "failed", detail: oneLine(r.reason) })),
    ...input.skipped.map((s): DocumentLine => ({ document: s.path, state: "skipped", detail: s.reason })),
  ];
  const documents = { total: lines.length, indexed: 0, unchanged: 0, failed: 0, skipped: 0, pending: 0 };
  for (const line of lines) documents[line.state] += 1;
  const chunks = { total: 0, embedded: 0, cacheHits: 0, nearDuplicates: 0 };
  for (const s of input.submitted) {
    const outcome = input.outcomes.get(s.jobId);
    if (outcome?.state !== "completed") continue;
    const result = readJobResult(outcome.result);
    chunks.total += result.chunks;
    chunks.embedded += result.embedded;
    chunks.cacheHits += result.cacheHits;
    chunks.nearDuplicates += result.nearDuplicates;
  }
  return { documents, chunks, wallMs: input.wallMs, lines };
}

/**
 * Three lines, documents, chunks and time, each a total then its parts. The
 * document rate counts those the workers got through (indexed, unchanged or failed).
 */
export function formatSummary(summary: IngestSummary): string {
  const { documents: d, chunks: c } = summary;
  const seconds = summary.wallMs / 1000;
  const through = d.indexed + d.unchanged + d.failed;
  const rate = (n: number) => formatRate(seconds > 0 ? n / seconds : 0);
  const states = [`${formatCount(d.indexed)} indexed`, `${formatCount(d.unchanged)} unchanged`, `${formatCount(d.failed)} failed`, `${formatCount(d.skipped)} skipped`, ...(d.pending ? [`${formatCount(d.pending)} pending`] : [])];
  return [
    `documents  ${formatCount(d.total)} found: ${states.join(", ")}`,
    `chunks     ${formatCount(c.total)} total: ${formatCount(c.embedded)} embedded, ${plural(c.cacheHits, "cache hit")}, ${plural(c.nearDuplicates, "near-duplicate")}`,
    `time       ${formatDuration(summary.wallMs)}: ${rate(through)} documents/s, ${rate(c.total)} chunks/s`,
  ].join("\n");
}

export interface ReportOptions {
  /** Every document, not only the failures. */
  all?: boolean;
}

/**
 * The summary, then the failures (document, reason), or every document with
 * `all`, in aligned columns, one line per document: readable and greppable at
 * thousands of rows (and fast: cli-table3 takes seconds for 10,000 rows).
 */
export function formatIngestReport(summary: IngestSummary, options: ReportOptions = {}): string {
  const out = [formatSummary(summary), ""];
  if (options.all) {
    const rows = summary.lines.map((l) => [l.document, l.version === undefined ? "-" : String(l.version), l.state, l.chunks === undefined ? "" : formatCount(l.chunks), l.detail]);
    out.push(`every document (${formatCount(summary.documents.total)}):`, formatColumns(["document", "version", "state", "chunks", "detail"], rows, { rightAligned: [3] }));
    return out.join("\n");
  }
  const failures = summary.lines.filter((l) => l.state === "failed");
  if (failures.length === 0) {
    out.push("no failures (--all lists every document)");
    return out.join("\n");
  }
  out.push(`failed: ${formatCount(failures.length)} of ${formatCount(summary.documents.total)} documents (--all lists every document)`);
  out.push(formatColumns(["document", "reason"], failures.map((l) => [l.document, l.detail])));
  return out.join("\n");
}

/** A column never pads wider than this; a longer value pushes the rest of its own line only. */
const MAX_COLUMN = 48;

/** Columns padded to their widest value (the last one not at all), two spaces apart, as `kubectl get` or `ls -l` print them. */
export function formatColumns(head: readonly string[], rows: readonly (readonly string[])[], options: { rightAligned?: readonly number[] } = {}): string {
  const widths = head.map((h, i) => Math.min(MAX_COLUMN, rows.reduce((w, row) => Math.max(w, (row[i] ?? "").length), h.length)));
  const render = (cells: readonly string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : options.rightAligned?.includes(i) ? cell.padStart(widths[i] ?? 0) : cell.padEnd(widths[i] ?? 0)))
      .join("  ")
      .trimEnd();
  return [render(head), ...rows.map(render)].join("\n");
}

/**
 * What an interrupted ingest left behind and how to follow it: the jobs stay
 * queued (running `ragops worker` processes take them), the files never
 * submitted need another run.
 */
export function formatInterruption(
  summary: IngestSummary,
  options: { submitted: readonly SubmittedDocument[]; notSubmitted: number; ownWorker: boolean; all?: boolean },
): string {
  const pending = summary.documents.pending;
  const lines = [`ingest: interrupted: ${formatCount(pending)} of ${formatCount(options.submitted.length)} queued documents still pending${options.notSubmitted > 0 ? `, ${formatCount(options.notSubmitted)} files not submitted` : ""}.`];
  if (pending > 0) {
    const firstPending = options.submitted.find((s) => summary.lines.some((l) => l.state === "pending" && l.document === s.documentId && l.version === s.version));
    lines.push(
      options.ownWorker
        ? "  Their jobs stay queued: this command's worker stops now, and any `ragops worker` on the same Redis runs them."
        : "  Their jobs keep running in the `ragops worker` processes.",
      `  Follow them with GET /v1/documents/<id> or GET /v1/jobs/<job id> on \`ragops serve\`${firstPending ? ` (e.g. /v1/jobs/${firstPending.jobId})` : ""}${options.all ? "" : "; --all lists each with its job"}.`,
    );
  }
  if (options.notSubmitted > 0) lines.push("  Run the same `ragops ingest` again to submit the rest: a document whose bytes are already indexed costs no embedding.");
  return lines.join("\n");
}
