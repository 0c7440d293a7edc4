import { InvalidRequestError } from "../../core/errors.js";
import { MAX_GRADE, MAX_REPORTED_ERRORS, MIN_GRADE, parseGoldenSet, serializeGoldenSet, type GoldenQuestion, type GoldenSet } from "./golden-set.js";

/**
 * A TREC test collection (topics + qrels) as a golden set judged by document
 * ids, so existing collections are usable as they are: each judged topic is a
 * question, its docnos the document ids, its qrels levels the grades.
 *
 * Topics come in two shapes, told apart by the first `<top>`:
 * - classic TREC SGML: `<top> <num> Number: 301 <title> ... <desc> Description: ... <narr> ... </top>`
 *   (end tags optional, as in TREC 1-8);
 * - TSV, `qid<TAB>question` per line, as MS MARCO and TREC RAG ship them.
 *
 * Qrels are `qid iter docno rel`, and every rel is kept as the grade, as
 * trec_eval reads it: >= 1 relevant, 0 judged not relevant, negative in the
 * pool but unjudged (see MAX_GRADE in golden-set.ts for how each is scored).
 */

// ---------------------------------------------------------------------------
// Minimal TREC readers. The evaluation module has its own qrels parser
// (trec.ts, written in parallel); these two are what import needs and can be
// merged into it: same whitespace rules, same duplicate check.
// ---------------------------------------------------------------------------

export interface QrelsLine {
  qid: string;
  docno: string;
  rel: number;
  /** 1-based line in the qrels file. */
  line: number;
}

export interface Topic {
  qid: string;
  text: string;
  line: number;
}

/** Which part of a classic topic becomes the question. @defaultValue "title" */
export type TopicField = "title" | "description" | "title+description";

class LineErrors {
  readonly issues: string[] = [];
  total = 0;
  constructor(private readonly file: string) {}
  add(line: number, message: string): void {
    this.total += 1;
    if (this.issues.length < MAX_REPORTED_ERRORS) this.issues.push(`${this.file} line ${line}: ${message}`);
  }
  throwIfAny(): void {
    if (this.total === 0) return;
    const more = this.total > this.issues.length ? `; and ${this.total - this.issues.length} more` : "";
    throw new InvalidRequestError(`invalid ${this.file} (${this.total} problem${this.total === 1 ? "" : "s"}): ${this.issues.join("; ")}${more}`, { details: { file: this.file, issues: this.issues, total: this.total } });
  }
}

const INTEGER = /^[+-]?\d+$/;

/** `qid iter docno rel`, any run of spaces or tabs between; blank lines and `#` lines skipped. */
export function parseQrelsText(text: string): QrelsLine[] {
  const errors = new LineErrors("qrels");
  const out: QrelsLine[] = [];
  const seen = new Set<string>();
  text.split("\n").forEach((raw, index) => {
    const line = index + 1;
    const row = raw.trim();
    if (row === "" || row.startsWith("#")) return;
    const fields = row.split(/\s+/);
    if (fields.length !== 4) return errors.add(line, `expected 4 fields "qid iter docno rel", found ${fields.length}`);
    const [qid, , docno, rel] = fields as [string, string, string, string];
    if (!INTEGER.test(rel)) return errors.add(line, `relevance ${JSON.stringify(rel)} is not an integer`);
    const pair = `${qid}\u0000${docno}`;
    if (seen.has(pair)) return errors.add(line, `docno ${docno} is judged twice for topic ${qid}`);
    seen.add(pair);
    out.push({ qid, docno, rel: Number(rel), line });
  });
  errors.throwIfAny();
  return out;
}

/** Classic SGML topics or `qid<TAB>question` TSV, whichever the text is. */
export function parseTopicsText(text: string, field: TopicField = "title"): Topic[] {
  return /<top>/i.test(text) ? parseSgmlTopics(text, field) : parseTsvTopics(text);
}

function parseTsvTopics(text: string): Topic[] {
  const errors = new LineErrors("topics");
  const topics: Topic[] = [];
  text.replace(/^\uFEFF/, "").split("\n").forEach((raw, index) => {
    const line = index + 1;
    const row = raw.replace(/\r$/, "");
    if (row.trim() === "") return;
    const tab = row.indexOf("\t");
    if (tab < 0) return errors.add(line, `expected "qid<TAB>question" (no tab found); classic topics start with <top>`);
    const qid = row.slice(0, tab).trim();
    const question = row.slice(tab + 1).trim();
    if (!qid || /\s/.test(qid)) return errors.add(line, `topic id ${JSON.stringify(qid)} is empty or has whitespace`);
    if (!question) return errors.add(line, `topic ${qid} has no question`);
    topics.push({ qid, text: question, line });
  });
  errors.throwIfAny();
  return checkUniqueTopics(topics);
}

const TAG = /<(\/?)(top|num|title|desc|narr)>/gi;

function parseSgmlTopics(text: string, field: TopicField): Topic[] {
  const errors = new LineErrors("topics");
  const topics: Topic[] = [];
  const lineAt = (offset: number) => text.slice(0, offset).split("\n").length;
  for (const block of text.matchAll(/<top>([\s\S]*?)(?:<\/top>|(?=<top>)|$)/gi)) {
    const line = lineAt(block.index);
    const parts = sgmlFields(block[1] ?? "");
    const qid = (parts.num ?? "").trim().replace(/^Number:\s*/i, "");
    const title = (parts.title ?? "").trim().replace(/^Topic:\s*/i, "");
    const desc = (parts.desc ?? "").trim().replace(/^Description:\s*/i, "");
    const question = clean(field === "title" ? title : field === "description" ? desc : `${title}. ${desc}`.replace(/^\.\s*|\.\s*$/g, ""));
    if (!qid || /\s/.test(qid)) errors.add(line, `<num> ${JSON.stringify(qid)} is empty or has whitespace`);
    else if (!question) errors.add(line, `topic ${qid} has no ${field === "title" ? "<title>" : field === "description" ? "<desc>" : "<title> or <desc>"} text`);
    else topics.push({ qid, text: question, line });
  }
  if (topics.length === 0 && errors.total === 0) errors.add(1, "no <top> ... </top> topic found");
  errors.throwIfAny();
  return checkUniqueTopics(topics);
}

/** The text after each field tag up to the next tag, end tags optional. */
function sgmlFields(body: string): Partial<Record<"num" | "title" | "desc" | "narr", string>> {
  const out: Partial<Record<"num" | "title" | "desc" | "narr", string>> = {};
  const tags = [...body.matchAll(TAG)];
  tags.forEach((tag, i) => {
    if (tag[1] === "/") return;
    const name = (tag[2] as string).toLowerCase() as "num" | "title" | "desc" | "narr";
    const end = tags[i + 1]?.index ?? body.length;
    out[name] ??= body.slice(tag.index + tag[0].length, end);
  });
  return out;
}

const clean = (text: string) => text.replace(/\s+/g, " ").trim();

function checkUniqueTopics(topics: Topic[]): Topic[] {
  const errors = new LineErrors("topics");
  const first = new Map<string, number>();
  for (const t of topics) {
    const earlier = first.get(t.qid);
    if (earlier !== undefined) errors.add(t.line, `topic ${t.qid} is defined again (first at line ${earlier})`);
    else first.set(t.qid, t.line);
  }
  errors.throwIfAny();
  return topics;
}

// ---------------------------------------------------------------------------
// Topics + qrels → golden set
// ---------------------------------------------------------------------------

export interface TrecImport {
  set: GoldenSet;
  /** Topics without a qrels line: not questions (trec_eval does not score them either). */
  skippedTopics: string[];
  /** Qrels lines with a negative rel (in the pool, unjudged), kept with their grade. */
  unjudged: number;
}

/**
 * Builds the golden set: one question per topic that has a qrels line, in
 * topic order, with `graded` holding every docno of its qrels with rel as the
 * grade (0 and negative included) and `relevantDocuments` those with rel >= 1.
 * A topic whose lines are all unjudged is still a question, as trec_eval
 * still counts it (0 in every measure). Refused: qrels topics the topics file
 * lacks (they would have no question) and rels outside trec_eval's
 * MIN_GRADE..MAX_GRADE.
 */
export function importTrec(topicsText: string, qrelsText: string, options: { topicField?: TopicField; tags?: string[] } = {}): TrecImport {
  const topics = parseTopicsText(topicsText, options.topicField);
  const qrels = parseQrelsText(qrelsText);
  const errors = new LineErrors("qrels");
  const known = new Set(topics.map((t) => t.qid));
  const byTopic = new Map<string, QrelsLine[]>();
  let unjudged = 0;
  const missing = new Map<string, number>();
  for (const q of qrels) {
    if (!known.has(q.qid)) {
      if (!missing.has(q.qid)) missing.set(q.qid, q.line);
      continue;
    }
    if (q.rel < MIN_GRADE || q.rel > MAX_GRADE) {
      errors.add(q.line, `relevance ${q.rel} is outside ${MIN_GRADE}..${MAX_GRADE}, the range trec_eval reads`);
      continue;
    }
    if (q.rel < 0) unjudged += 1;
    const judged = byTopic.get(q.qid);
    if (judged) judged.push(q);
    else byTopic.set(q.qid, [q]);
  }
  for (const [qid, line] of missing) errors.add(line, `topic ${qid} is judged but not in the topics file`);
  errors.throwIfAny();

  const questions: GoldenQuestion[] = [];
  const skippedTopics: string[] = [];
  for (const topic of topics) {
    const judged = byTopic.get(topic.qid);
    if (!judged) {
      skippedTopics.push(topic.qid);
      continue;
    }
    const relevant = judged.filter((j) => j.rel >= 1).map((j) => j.docno);
    questions.push({
      id: topic.qid,
      question: topic.text,
      ...(relevant.length ? { relevantDocuments: relevant } : {}),
      graded: judged.map((j) => ({ id: j.docno, grade: j.rel })),
      ...(options.tags?.length ? { tags: options.tags } : {}),
    });
  }
  if (questions.length === 0) throw new InvalidRequestError(`no topic has a qrels line (${topics.length} topics, ${qrels.length} qrels lines): check that the topic ids of both files match`);
  // Through the golden-set parser, so an import is held to exactly the rules of an upload.
  return { set: parseGoldenSet(serializeGoldenSet(questions)), skippedTopics, unjudged };
}
