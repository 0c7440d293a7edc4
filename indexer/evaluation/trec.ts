/**
 * TREC file formats, read and written the way trec_eval 10.0 reads them, so a
 * run ragops writes scores the same under trec_eval as in-process.
 *
 * qrels: `qid iter docno rel` — rel is read like C `atol`; below 0 means in the
 * pool but unjudged, 0 judged non-relevant. A run: `qid Q0 docno rank score tag`
 * — iter and rank are ignored (order comes from the score), score is read like
 * C `atof`, anything after the tag is ignored, and the tag of the last line
 * names the run. Lines whose first non-blank character is `#` are comments; a
 * `#` inside a field is data (MS MARCO segment ids hold one). Blank lines are
 * skipped. The parsers take text: reading files is the caller's business.
 */
import { InvalidRequestError } from "../../core/errors.js";
import { compareBytes, compareTrecOrder, type ScoredDoc } from "./metrics.js";

/** Judgments per query: qid → docno → relevance grade. */
export type Qrels = Map<string, Map<string, number>>;

export interface TrecRun {
  /** The run tag of the last line (trec_eval's `runid`). */
  tag: string;
  /** Retrieved documents per query, in file order (ranking is by score, see metrics.ts). */
  queries: Map<string, ScoredDoc[]>;
}

/** C's isspace: space, \t, \n, \v, \f, \r. */
const FIELD_SEPARATOR = /[ \t\n\v\f\r]+/;

interface Line {
  number: number;
  fields: string[];
}

/** Content lines with their 1-based line numbers; blank and comment lines are left out. */
function contentLines(text: string): Line[] {
  const lines: Line[] = [];
  text.split("\n").forEach((raw, i) => {
    const trimmed = raw.replace(/^[ \t\v\f\r]+/, "");
    if (trimmed === "" || trimmed.startsWith("#")) return;
    lines.push({ number: i + 1, fields: trimmed.split(FIELD_SEPARATOR).filter((f) => f !== "") });
  });
  return lines;
}

/** C `atol`: optional sign and leading digits; whatever follows is ignored, no digits gives 0. */
export function atol(text: string): number {
  const match = /^[ \t\n\v\f\r]*([+-]?\d+)/.exec(text);
  return match ? Number.parseInt(match[1] as string, 10) : 0;
}

/**
 * C `atof` (strtod): the longest prefix that is a number — decimal with an
 * optional exponent, hexadecimal (`0x1.8p3`), `inf`/`infinity`, `nan` — and 0
 * when there is none. `1e-1`, `0.80` and `-.5` all read as C reads them.
 */
export function atof(text: string): number {
  const s = text.replace(/^[ \t\n\v\f\r]+/, "");
  const special = /^([+-]?)(infinity|inf|nan)/i.exec(s);
  if (special) {
    const sign = special[1] === "-" ? -1 : 1;
    return (special[2] as string).toLowerCase() === "nan" ? Number.NaN : sign * Number.POSITIVE_INFINITY;
  }
  const hex = /^([+-]?)0[xX]([0-9a-fA-F]*)(?:\.([0-9a-fA-F]*))?(?:[pP]([+-]?\d+))?/.exec(s);
  if (hex && ((hex[2] ?? "") + (hex[3] ?? "")).length > 0) {
    const [, sign, whole = "", fraction = "", exponent] = hex;
    let value = whole === "" ? 0 : Number.parseInt(whole, 16);
    for (let i = 0; i < fraction.length; i++) value += Number.parseInt(fraction[i] as string, 16) / 16 ** (i + 1);
    value *= 2 ** (exponent === undefined ? 0 : Number.parseInt(exponent, 10));
    return sign === "-" ? -value : value;
  }
  const decimal = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?/.exec(s);
  return decimal ? Number(decimal[0]) : 0;
}

function formatError(kind: "qrels" | "run", line: number, message: string): InvalidRequestError {
  return new InvalidRequestError(`${kind} line ${line}: ${message}`, { details: { line } });
}

/** Parses TREC qrels. A line that is not four fields, or a docno judged twice for a query, is an error with its line number. */
export function parseQrels(text: string): Qrels {
  const qrels: Qrels = new Map();
  const seenAt = new Map<string, number>();
  for (const { number, fields } of contentLines(text)) {
    if (fields.length !== 4) throw formatError("qrels", number, `expected "qid iter docno rel" (4 fields), found ${fields.length}`);
    const [qid, , docno, rel] = fields as [string, string, string, string];
    const key = `${qid}\u0000${docno}`;
    const first = seenAt.get(key);
    if (first !== undefined) throw formatError("qrels", number, `document ${docno} is judged twice for query ${qid} (first on line ${first})`);
    seenAt.set(key, number);
    let judgments = qrels.get(qid);
    if (!judgments) qrels.set(qid, (judgments = new Map()));
    judgments.set(docno, atol(rel));
  }
  return qrels;
}

/** Parses a TREC run. Fewer than six fields, or a docno retrieved twice for a query, is an error with its line number. */
export function parseRun(text: string): TrecRun {
  const queries = new Map<string, ScoredDoc[]>();
  const seenAt = new Map<string, number>();
  let tag = "";
  for (const { number, fields } of contentLines(text)) {
    if (fields.length < 6) throw formatError("run", number, `expected "qid Q0 docno rank score tag" (6 fields), found ${fields.length}`);
    const [qid, , docno, , score, lineTag] = fields as [string, string, string, string, string, string];
    const key = `${qid}\u0000${docno}`;
    const first = seenAt.get(key);
    if (first !== undefined) throw formatError("run", number, `document ${docno} is retrieved twice for query ${qid} (first on line ${first})`);
    seenAt.set(key, number);
    let docs = queries.get(qid);
    if (!docs) queries.set(qid, (docs = []));
    docs.push({ docno, score: atof(score) });
    tag = lineTag;
  }
  return { tag, queries };
}

/** A field trec_eval can read back as one field: non-empty, no whitespace. */
function checkField(what: string, value: string): void {
  if (value === "" || /[ \t\n\v\f\r]/.test(value)) throw new InvalidRequestError(`${what} ${JSON.stringify(value)} cannot be written to a TREC run: it must be non-empty with no whitespace`);
}

/**
 * Writes a run file trec_eval reads back to the same ranking: queries in
 * byte order, each query's documents in trec_eval's order (score descending,
 * then docno descending) with ranks 1..n, scores in JavaScript's shortest
 * round-trip form (which `atof` reads back to the same double). A query with
 * no documents cannot appear in a run file; trec_eval treats it as missing.
 */
export function formatRun(queries: ReadonlyMap<string, readonly ScoredDoc[]>, tag: string): string {
  checkField("run tag", tag);
  const lines: string[] = [];
  for (const qid of [...queries.keys()].sort(compareBytes)) {
    checkField("query id", qid);
    if (qid.startsWith("#")) throw new InvalidRequestError(`query id ${JSON.stringify(qid)} cannot be written to a TREC run: a line starting with # is a comment`);
    const docs = [...(queries.get(qid) ?? [])];
    const seen = new Set<string>();
    for (const doc of docs) {
      checkField("document id", doc.docno);
      if (!Number.isFinite(doc.score)) throw new InvalidRequestError(`document ${doc.docno} of query ${qid} has score ${doc.score}; a TREC run needs finite scores`);
      if (seen.has(doc.docno)) throw new InvalidRequestError(`document ${doc.docno} appears twice for query ${qid}; a TREC run holds each document once per query`);
      seen.add(doc.docno);
    }
    docs.sort(compareTrecOrder).forEach((doc, i) => lines.push(`${qid} Q0 ${doc.docno} ${i + 1} ${String(doc.score)} ${tag}`));
  }
  return lines.length === 0 ? "" : `${lines.join("\n")}\n`;
}
