import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Command } from "commander";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { addGoldenCommand } from "./golden-command.js";

/** `ragops golden ...` run in-process on a temp data directory (the commands need no server and no Redis). */
const ROOT = join(import.meta.dirname, "..", "..");
const FIXTURES = join(ROOT, "test", "fixtures", "golden");
let dataDir: string;
let printed: string[];

beforeEach(() => {
  dataDir = mkdtempSync(join(tmpdir(), "ragops-golden-cli-"));
  printed = [];
  vi.spyOn(console, "log").mockImplementation((...args: unknown[]) => void printed.push(args.join(" ")));
});
afterEach(() => {
  vi.restoreAllMocks();
  rmSync(dataDir, { recursive: true, force: true });
});

async function ragops(...args: string[]): Promise<string> {
  const program = new Command().option("-c, --config <file>").option("--data-dir <dir>").option("--log-level <level>").exitOverride();
  addGoldenCommand(program);
  printed = [];
  await program.parseAsync(["--data-dir", dataDir, "golden", ...args], { from: "user" });
  return printed.join("\n");
}

describe("ragops golden", () => {
  it("uploads a file as version 1, says an identical upload changed nothing, and lists it", async () => {
    const file = join(ROOT, "examples", "golden", "northwind.jsonl");
    expect(await ragops("upload", file, "--name", "northwind")).toMatch(/^stored northwind v1: 18 questions, judged by document ids/);
    expect(await ragops("upload", file, "--name", "northwind")).toMatch(/^unchanged: identical to northwind v1/);
    const table = await ragops("list");
    expect(table).toMatch(/northwind\s*│\s*v1\s*│\s*1\s*│\s*18\s*│\s*document/);
    expect(JSON.parse(await ragops("list", "northwind", "--json"))).toEqual([expect.objectContaining({ name: "northwind", version: 1, questions: 18 })]);
  });

  it("imports TREC topics and qrels, saying what it skipped", async () => {
    const out = JSON.parse(await ragops("import", "--topics", join(FIXTURES, "topics.edge.tsv"), "--qrels", join(FIXTURES, "qrels.edge"), "--name", "edge", "--json")) as Record<string, unknown>;
    expect(out).toMatchObject({ name: "edge", version: 1, questions: 4, judgmentLevel: "document", created: true, skippedTopics: ["q4"], unjudged: 1 });
    const text = await ragops("import", "--topics", join(FIXTURES, "topics.trec-301-303.txt"), "--qrels", join(FIXTURES, "qrels.test"), "--name", "trec");
    expect(text).toMatch(/^stored trec v1: 3 questions/);
  });

  it("refuses an invalid file with one line per problem, naming line and field", async () => {
    const file = join(dataDir, "bad.jsonl");
    writeFileSync(file, `${JSON.stringify({ question: "a", relevantDocuments: ["d"] })}\n${JSON.stringify({ question: "b", relevantDocs: ["d"] })}\n{`);
    await expect(ragops("upload", file, "--name", "bad")).rejects.toThrow(/bad\.jsonl is not a valid golden set \(2 problems\):\n {2}line 2: unknown field "relevantDocs".*\n {2}line 3: not valid JSON/);
    expect(await ragops("list")).toMatch(/no golden sets yet/);
  });

  it("documents the import options and their defaults in --help", () => {
    const program = new Command();
    addGoldenCommand(program);
    const help = program.commands[0]?.commands.find((c) => c.name() === "import")?.helpInformation() ?? "";
    expect(help).toMatch(/--topic-field <field>[\s\S]*choices:\s+"title",\s+"description",\s+"title\+description",\s+default:\s+"title"/);
    expect(help).toMatch(/--qrels <file>.*each rel kept as the\s+grade \(-127\.\.127/s);
  });
});
