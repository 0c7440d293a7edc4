import { readFile } from "node:fs/promises";
import Table from "cli-table3";
import { Option, type Command } from "commander";
import { InvalidRequestError } from "../../core/errors.js";
import type { ObjectStore } from "../../core/object-store.js";
import { importTrec, type TopicField } from "../../indexer/evaluation/golden-import.js";
import { InvalidGoldenSetError, parseGoldenSet } from "../../indexer/evaluation/golden-set.js";
import { listGoldenSets, listGoldenSetVersions, putGoldenSet, type GoldenSetRecord, type StoredGoldenSet } from "../../indexer/evaluation/golden-store.js";
import { createObjectStore } from "../stores/index.js";
import { collect, configFrom } from "./common.js";
import { tableStyle } from "./output.js";

/**
 * `ragops golden upload | import | list`: golden sets in the object store,
 * versioned by name. Works on the data directory directly (no server, no Redis).
 */
export function addGoldenCommand(program: Command): void {
  const golden = program
    .command("golden")
    .description("Golden sets for evaluation: JSONL questions with their relevant documents, chunks, reference contexts or grades, versioned by name.")
    .addHelpText(
      "after",
      `
Line format (JSON Lines, one question a line; at least one judgment):
  {"id": "q1", "question": "...", "relevantDocuments": ["doc-id"], "relevantChunks": ["doc-id#3" or a 64-hex chunk hash],
   "referenceContexts": ["quoted passage"], "graded": [{"id": "doc-id", "grade": 2}], "tags": ["t"]}
  grade: an integer -127..127 as in TREC qrels: >= 1 relevant (its nDCG gain), 0 judged not relevant, negative unjudged
Examples:
  ragops golden upload examples/golden/northwind.jsonl --name northwind
  ragops golden import --topics topics.tsv --qrels qrels.txt --name trec-rag
  ragops golden list
  ragops golden list northwind --json`,
    );

  golden
    .command("upload")
    .description("Validate a JSONL golden set and store it as the next version of <name> (an identical set keeps its version).")
    .argument("<file>", "the golden set, JSON Lines")
    .requiredOption("-n, --name <name>", "golden set name (letters, digits, '.', '_', '-')")
    .option("--json", "print the stored record as JSON")
    .action(async (file: string, options: { name: string; json?: boolean }, command: Command) => {
      const text = await readFile(file, "utf8");
      const set = withFileName(file, () => parseGoldenSet(text));
      await withStore(command, async (store) => printStored(await putGoldenSet(store, options.name, set), options.json));
    });

  golden
    .command("import")
    .description("Turn a TREC test collection (topics + qrels) into a golden set judged by document ids with graded relevance, and store it.")
    .requiredOption("--topics <file>", "topics: classic TREC SGML (<top><num> ... <title> ...) or qid<TAB>question TSV (MS MARCO, TREC RAG)")
    .requiredOption("--qrels <file>", "qrels: 'qid iter docno rel' lines, each rel kept as the grade (-127..127, as trec_eval reads it): >= 1 relevant, 0 judged not relevant, negative unjudged")
    .requiredOption("-n, --name <name>", "golden set name")
    .addOption(new Option("--topic-field <field>", "which part of a classic topic is the question").choices(["title", "description", "title+description"]).default("title"))
    .option("-t, --tag <tag>", "tag every question (repeatable)", collect, [])
    .option("--json", "print the stored record and the import summary as JSON")
    .action(async (options: { topics: string; qrels: string; name: string; topicField: TopicField; tag: string[]; json?: boolean }, command: Command) => {
      const [topics, qrels] = await Promise.all([readFile(options.topics, "utf8"), readFile(options.qrels, "utf8")]);
      const imported = importTrec(topics, qrels, { topicField: options.topicField, tags: options.tag });
      await withStore(command, async (store) => {
        const stored = await putGoldenSet(store, options.name, imported.set);
        if (options.json) {
          console.log(JSON.stringify({ ...stored.record, created: stored.created, skippedTopics: imported.skippedTopics, unjudged: imported.unjudged }, null, 2));
          return;
        }
        printStored(stored, false);
        const skipped = imported.skippedTopics;
        if (skipped.length) console.log(`skipped ${skipped.length} topic${skipped.length === 1 ? "" : "s"} without qrels: ${skipped.slice(0, 10).join(", ")}${skipped.length > 10 ? ", ..." : ""}`);
        if (imported.unjudged) console.log(`kept ${imported.unjudged} unjudged qrels line${imported.unjudged === 1 ? "" : "s"} (negative relevance: never relevant, as in trec_eval)`);
      });
    });

  golden
    .command("list")
    .description("Every golden set with its latest version, or with a name, that set's versions.")
    .argument("[name]", "list this set's versions")
    .option("--json", "print JSON instead of a table")
    .action(async (name: string | undefined, options: { json?: boolean }, command: Command) => {
      await withStore(command, async (store) => {
        if (name) {
          const versions = await listGoldenSetVersions(store, name);
          console.log(options.json ? JSON.stringify(versions, null, 2) : recordTable(versions));
          return;
        }
        const sets = await listGoldenSets(store);
        if (options.json) console.log(JSON.stringify(sets, null, 2));
        else if (sets.length === 0) console.log("no golden sets yet: ragops golden upload <file> --name <name>");
        else console.log(recordTable(sets.map((s) => s.latest), sets.map((s) => s.versions)));
      });
    });
}

async function withStore<T>(command: Command, fn: (store: ObjectStore) => Promise<T>): Promise<T> {
  const store = createObjectStore(configFrom(command, { log: { level: "warn" } }));
  try {
    return await fn(store);
  } finally {
    await store.close();
  }
}

/** A golden set's problems, one per line, under the file's name. */
function withFileName<T>(file: string, fn: () => T): T {
  try {
    return fn();
  } catch (error) {
    if (!(error instanceof InvalidGoldenSetError)) throw error;
    const total = Number(error.details?.total ?? error.issues.length);
    const lines = error.issues.map((i) => `  ${i.line > 0 ? `line ${i.line}` : file}${i.path ? `, ${i.path}` : ""}: ${i.message}`);
    if (total > lines.length) lines.push(`  ... and ${total - lines.length} more`);
    throw new InvalidRequestError(`${file} is not a valid golden set (${total} problem${total === 1 ? "" : "s"}):\n${lines.join("\n")}`, { details: error.details });
  }
}

function printStored({ record, created }: StoredGoldenSet, json: boolean | undefined): void {
  if (json) console.log(JSON.stringify({ ...record, created }, null, 2));
  else if (created) console.log(`stored ${record.name} v${record.version}: ${record.questions} questions, judged by ${record.judgmentLevel === "document" ? "document ids" : "chunks"} (sha256 ${record.sha256.slice(0, 12)})`);
  else console.log(`unchanged: identical to ${record.name} v${record.version} (sha256 ${record.sha256.slice(0, 12)}), nothing stored`);
}

/** The table `golden list` prints; with `versions`, a count per row (the list of sets). */
export function recordTable(records: readonly GoldenSetRecord[], versions?: readonly number[]): string {
  const table = new Table({ head: ["name", "version", ...(versions ? ["versions"] : []), "questions", "judged by", "created", "sha256"], style: tableStyle() });
  records.forEach((r, i) => table.push([r.name, `v${r.version}`, ...(versions ? [String(versions[i])] : []), String(r.questions), r.judgmentLevel, r.created.slice(0, 19).replace("T", " "), r.sha256.slice(0, 12)]));
  return table.toString();
}
