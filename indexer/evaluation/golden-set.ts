import { z } from "zod";
import { RagopsError } from "../../core/errors.js";

/**
 * Golden sets: the questions an evaluation asks, with what a good retrieval
 * returns for each. JSON Lines, one question a line:
 *
 *   {"id": "q1", "question": "How long is the dock warranty?",
 *    "relevantDocuments": ["warranty-and-rma-process.txt"],
 *    "referenceContexts": ["The charging dock is covered for 24 months"],
 *    "graded": [{"id": "warranty-and-rma-process.txt", "grade": 3}], "tags": ["warranty"]}
 *
 * Judgments, at least one kind per line:
 * - `relevantDocuments`: document ids (any id without whitespace, so TREC docnos fit as they are);
 * - `relevantChunks`: chunk references (see {@link parseChunkRef});
 * - `graded`: `{id, grade}`, an integer grade as TREC qrels give it (see {@link MAX_GRADE}); ids are read at the set's level;
 * - `referenceContexts`: passages a good retrieval returns, matched to retrieved chunk texts by string similarity.
 *
 * An id listed as relevant counts as grade 1 unless `graded` gives it a grade;
 * `graded` may not give it 0 or less. A set is judged at one level: document ids or
 * chunk references (see {@link judgmentLevel}); reference contexts go with
 * either.
 */

/**
 * Grades are what TREC qrels hold, scored as trec_eval 10.0 scores them, so a
 * test collection is usable as it is (TREC RAG and MS MARCO grade 0-3, older
 * collections up to 4 and beyond):
 * - a grade ≥ 1 is relevant (trec_eval's default relevance level), and its
 *   value is its nDCG gain;
 * - 0 is judged not relevant;
 * - a negative grade is "in the pool, unjudged" (form_res_rels.c): never
 *   relevant, no gain, not counted among the judged documents — the same as a
 *   document absent from the judgments for every metric a report holds — but
 *   kept, so the question stays a query with judgments as trec_eval counts it,
 *   and the qrels a report writes are the collection's own.
 * The range is the one trec_eval documents for rel (get_qrels.c: "an integer
 * between -127 and 127"); it sizes an array by the highest grade, so a larger
 * one is a mistake, not a scale.
 */
export const MIN_GRADE = -127;
export const MAX_GRADE = 127;
/** Errors reported in one rejection; more are counted, not listed. */
export const MAX_REPORTED_ERRORS = 50;

const HASH = /^[0-9a-f]{64}$/;
const ORDINAL_REF = /^([A-Za-z0-9][A-Za-z0-9._-]{0,127})#(0|[1-9][0-9]{0,8})$/;

/**
 * A chunk reference is one of:
 * - a chunk hash: 64 lowercase hex digits, the `chunkId` search returns (sha-256 of the chunk's
 *   normalised text; the same text is the same chunk in every version with the same chunking);
 * - `<documentId>#<ordinal>`: the document's chunk at that 0-based position, as the chunking
 *   profile of the version being evaluated cuts it (so it moves when the chunking changes).
 * Document ids cannot contain '#', so the two forms never overlap.
 */
export type ChunkRef = { kind: "hash"; hash: string } | { kind: "ordinal"; documentId: string; ordinal: number };

export function parseChunkRef(ref: string): ChunkRef | undefined {
  if (HASH.test(ref)) return { kind: "hash", hash: ref };
  const m = ORDINAL_REF.exec(ref);
  return m ? { kind: "ordinal", documentId: m[1] as string, ordinal: Number(m[2]) } : undefined;
}

const documentId = z.string().min(1).max(512).regex(/^\S+$/, "a document id has no whitespace");
const chunkRef = z.string().refine((ref) => parseChunkRef(ref) !== undefined, "a chunk reference is a 64-hex chunk hash or <documentId>#<ordinal>");
const judgedId = z.string().min(1).max(512).regex(/^\S+$/, "an id has no whitespace");
const unique = (what: string) => (ids: readonly string[], ctx: z.RefinementCtx) => {
  const seen = new Set<string>();
  ids.forEach((id, i) => {
    if (seen.has(id)) ctx.addIssue({ code: "custom", path: [i], message: `duplicate ${what} ${JSON.stringify(id)}` });
    seen.add(id);
  });
};

export const goldenQuestionSchema = z
  .strictObject({
    id: z.string().min(1).max(256).regex(/^\S+$/, "a question id has no whitespace").optional().describe("Question id; defaults to the line number"),
    question: z.string().trim().min(1, "the question is empty").max(10_000),
    relevantDocuments: z.array(documentId).min(1).max(10_000).superRefine(unique("document id")).optional(),
    relevantChunks: z.array(chunkRef).min(1).max(10_000).superRefine(unique("chunk reference")).optional(),
    referenceContexts: z.array(z.string().trim().min(1, "a reference context is empty").max(100_000)).min(1).max(1_000).optional(),
    graded: z
      .array(z.strictObject({ id: judgedId, grade: z.int().min(MIN_GRADE).max(MAX_GRADE) }))
      .min(1)
      .max(10_000)
      .superRefine((entries, ctx) => unique("graded id")(entries.map((e) => e.id), ctx))
      .optional(),
    tags: z.array(z.string().min(1).max(128)).max(64).optional(),
  })
  .superRefine((q, ctx) => {
    if (!q.relevantDocuments && !q.relevantChunks && !q.referenceContexts && !q.graded) {
      ctx.addIssue({ code: "custom", path: [], message: "no judgment: give at least one of relevantDocuments, relevantChunks, referenceContexts, graded" });
    }
    if (q.relevantDocuments && q.relevantChunks) {
      ctx.addIssue({ code: "custom", path: ["relevantChunks"], message: "a question is judged by document ids or by chunk references, not both" });
    }
    const listed = new Set([...(q.relevantDocuments ?? []), ...(q.relevantChunks ?? [])]);
    q.graded?.forEach((g, i) => {
      if (g.grade <= 0 && listed.has(g.id)) ctx.addIssue({ code: "custom", path: ["graded", i, "grade"], message: `${JSON.stringify(g.id)} is listed as relevant but graded ${g.grade}` });
    });
  });

/** One question of a golden set, as it is stored: the id is always there. */
export type GoldenQuestion = z.infer<typeof goldenQuestionSchema> & { id: string };

/**
 * What the id-based metrics score: "document" — the document ranking (a
 * document ranks where its first chunk ranks); "chunk" — the chunk ranking,
 * judged by chunk references, or by reference contexts alone.
 */
export type JudgmentLevel = "document" | "chunk";

export interface GoldenSet {
  questions: GoldenQuestion[];
  judgmentLevel: JudgmentLevel;
}

export interface GoldenSetIssue {
  /** 1-based line of the JSONL text (0 for the text as a whole). */
  line: number;
  /** Field path inside the line ("relevantDocuments.2", "graded.0.grade"); "" for the line itself. */
  path: string;
  message: string;
}

/** A golden set that cannot be used: every problem found (up to MAX_REPORTED_ERRORS), each with its line and field. */
export class InvalidGoldenSetError extends RagopsError {
  readonly issues: GoldenSetIssue[];

  constructor(issues: GoldenSetIssue[], total = issues.length) {
    const shown = issues.slice(0, MAX_REPORTED_ERRORS);
    const more = total > shown.length ? `; and ${total - shown.length} more` : "";
    super("invalid_request", `invalid golden set (${total} problem${total === 1 ? "" : "s"}): ${shown.map(describeIssue).join("; ")}${more}`, {
      details: { issues: shown, total },
    });
    this.issues = shown;
  }
}

const describeIssue = (issue: GoldenSetIssue) => `${issue.line > 0 ? `line ${issue.line}` : "golden set"}${issue.path ? `, ${issue.path}` : ""}: ${issue.message}`;

/**
 * The level one question's ids are judged at; undefined when it has only
 * reference contexts. "either" for `graded` alone whose every id reads as a
 * chunk reference: such ids are valid document ids too (document ids may hold
 * '#', a TREC docno like "doc-7#2" reads as `<documentId>#<ordinal>`), so the
 * question follows the set's other questions.
 */
function questionLevel(q: GoldenQuestion): JudgmentLevel | "either" | undefined {
  if (q.relevantChunks) return "chunk";
  if (q.relevantDocuments) return "document";
  // Graded alone: document ids as soon as one id cannot be a chunk reference (a TREC docno like "msmarco_v2.1_doc_00_1#4_2").
  if (q.graded) return q.graded.every((g) => parseChunkRef(g.id)) ? "either" : "document";
  return undefined;
}

const levelPath = (q: GoldenQuestion, level: JudgmentLevel) => (level === "chunk" ? (q.relevantChunks ? "relevantChunks" : "graded") : q.relevantDocuments ? "relevantDocuments" : "graded");
const levelName = (level: JudgmentLevel) => (level === "chunk" ? "chunk references" : "document ids");

/**
 * The set's level: every question that judges ids judges them at the same
 * level; a set of reference contexts alone, or of graded chunk references
 * alone, is judged on chunks. Returns the issues of the questions that
 * disagree with the first one that decided.
 */
export function judgmentLevel(questions: readonly GoldenQuestion[], lines?: readonly number[]): { level: JudgmentLevel; issues: GoldenSetIssue[] } {
  let first: { level: JudgmentLevel; line: number } | undefined;
  const issues: GoldenSetIssue[] = [];
  questions.forEach((q, i) => {
    const level = questionLevel(q);
    const line = lines?.[i] ?? i + 1;
    if (level === undefined || level === "either") return;
    if (!first) first = { level, line };
    else if (level !== first.level) {
      issues.push({ line, path: levelPath(q, level), message: `judged by ${levelName(level)}, but line ${first.line} judges by ${levelName(first.level)}: a golden set is judged at one level` });
    }
  });
  const level = first?.level ?? "chunk";
  if (level === "chunk") {
    questions.forEach((q, i) => {
      q.graded?.forEach((g, j) => {
        if (!parseChunkRef(g.id)) issues.push({ line: lines?.[i] ?? i + 1, path: `graded.${j}.id`, message: `${JSON.stringify(g.id)} is not a chunk reference (64-hex chunk hash or <documentId>#<ordinal>) in a set judged by chunks` });
      });
    });
  }
  return { level, issues };
}

/**
 * Parses and validates a JSONL golden set. Blank lines are skipped (line
 * numbers still count them); a question without an id gets its line number.
 * Every line is checked and all problems are reported together, each with its
 * line and field, in one InvalidGoldenSetError.
 */
export function parseGoldenSet(text: string): GoldenSet {
  const issues: GoldenSetIssue[] = [];
  const questions: GoldenQuestion[] = [];
  const lines: number[] = [];
  const idLine = new Map<string, number>();
  const rows = text.replace(/^\uFEFF/, "").split("\n");
  rows.forEach((raw, index) => {
    const line = index + 1;
    const row = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    if (row.trim() === "") return;
    let value: unknown;
    try {
      value = JSON.parse(row);
    } catch (error) {
      issues.push({ line, path: "", message: `not valid JSON (${error instanceof Error ? error.message : String(error)})` });
      return;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      issues.push({ line, path: "", message: "each line must be a JSON object with a question" });
      return;
    }
    const parsed = goldenQuestionSchema.safeParse(value);
    if (!parsed.success) {
      // A misspelt judgment field is one mistake: name it, without also reporting the line as unjudged.
      const misspelt = parsed.error.issues.some((i) => i.code === "unrecognized_keys" && i.path.length === 0);
      for (const issue of parsed.error.issues) if (!(misspelt && issue.code === "custom" && issue.path.length === 0)) issues.push({ line, path: issue.path.map(String).join("."), message: issueMessage(issue) });
      return;
    }
    const question = { ...parsed.data, id: parsed.data.id ?? String(line) } as GoldenQuestion;
    const earlier = idLine.get(question.id);
    if (earlier !== undefined) {
      issues.push({ line, path: parsed.data.id === undefined ? "" : "id", message: `duplicate question id ${JSON.stringify(question.id)} (line ${earlier} has it${parsed.data.id === undefined ? "; ids default to the line number" : ""})` });
      return;
    }
    idLine.set(question.id, line);
    questions.push(question);
    lines.push(line);
  });
  if (questions.length === 0 && issues.length === 0) issues.push({ line: 0, path: "", message: "no questions: give one JSON object per line" });
  const level = judgmentLevel(questions, lines);
  issues.push(...level.issues);
  if (issues.length > 0) {
    issues.sort((a, b) => a.line - b.line);
    throw new InvalidGoldenSetError(issues.slice(0, MAX_REPORTED_ERRORS), issues.length);
  }
  return { questions, judgmentLevel: level.level };
}

function issueMessage(issue: z.core.$ZodIssue): string {
  if (issue.code === "unrecognized_keys") {
    return `unknown field${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((k) => JSON.stringify(k)).join(", ")} (known: ${Object.keys(goldenQuestionSchema.shape).join(", ")})`;
  }
  return issue.message;
}

/** The set as canonical JSONL: one line per question, fields in schema order, every id explicit. */
export function serializeGoldenSet(questions: readonly GoldenQuestion[]): string {
  const order = Object.keys(goldenQuestionSchema.shape) as Array<keyof GoldenQuestion>;
  return questions
    .map((q) => {
      const line: Record<string, unknown> = {};
      for (const key of order) if (q[key] !== undefined) line[key] = q[key];
      return `${JSON.stringify(line)}\n`;
    })
    .join("");
}
