import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidGoldenSetError, MAX_REPORTED_ERRORS, parseChunkRef, parseGoldenSet, serializeGoldenSet, type GoldenQuestion } from "./golden-set.js";

const HASH = "a".repeat(64);

function rejection(text: string): InvalidGoldenSetError {
  try {
    parseGoldenSet(text);
  } catch (error) {
    if (error instanceof InvalidGoldenSetError) return error;
    throw error;
  }
  throw new Error("the golden set was accepted");
}

const jsonl = (...lines: unknown[]) => lines.map((l) => (typeof l === "string" ? l : JSON.stringify(l))).join("\n");

describe("parseGoldenSet", () => {
  it("reads every judgment kind and keeps the fields as given", () => {
    const set = parseGoldenSet(
      jsonl(
        { id: "q1", question: "How long is the warranty?", relevantDocuments: ["warranty.txt"], referenceContexts: ["24 months"], graded: [{ id: "warranty.txt", grade: 3 }, { id: "faq.html", grade: 0 }], tags: ["warranty"] },
        { question: "Where is the dock?", graded: [{ id: "dock.md", grade: 2 }] },
      ),
    );
    expect(set.judgmentLevel).toBe("document");
    expect(set.questions).toEqual([
      { id: "q1", question: "How long is the warranty?", relevantDocuments: ["warranty.txt"], referenceContexts: ["24 months"], graded: [{ id: "warranty.txt", grade: 3 }, { id: "faq.html", grade: 0 }], tags: ["warranty"] },
      { id: "2", question: "Where is the dock?", graded: [{ id: "dock.md", grade: 2 }] },
    ]);
  });

  it("gives a question without an id its line number, counting blank lines and tolerating CRLF and a BOM", () => {
    const set = parseGoldenSet(`\uFEFF${JSON.stringify({ question: "a", relevantDocuments: ["d"] })}\r\n\r\n${JSON.stringify({ question: "b", relevantDocuments: ["d"] })}\r\n`);
    expect(set.questions.map((q) => q.id)).toEqual(["1", "3"]);
  });

  it("derives the chunk level from chunk references, and from reference contexts alone", () => {
    expect(parseGoldenSet(jsonl({ question: "a", relevantChunks: [HASH, "guide.md#3"] })).judgmentLevel).toBe("chunk");
    expect(parseGoldenSet(jsonl({ question: "a", graded: [{ id: "guide.md#0", grade: 1 }] })).judgmentLevel).toBe("chunk");
    expect(parseGoldenSet(jsonl({ question: "a", referenceContexts: ["text"] })).judgmentLevel).toBe("chunk");
  });

  it("reads TREC docnos with '#' in graded judgments as document ids", () => {
    expect(parseGoldenSet(jsonl({ question: "a", graded: [{ id: "msmarco_v2.1_doc_00_880019750#4_1633802806", grade: 1 }] })).judgmentLevel).toBe("document");
  });

  it("rejects a set that mixes document-id and chunk-reference judgments, naming the line", () => {
    const error = rejection(jsonl({ question: "a", relevantDocuments: ["d"] }, { question: "b", relevantChunks: [HASH] }));
    expect(error.issues).toEqual([expect.objectContaining({ line: 2, path: "relevantChunks" })]);
    expect(error.message).toMatch(/line 2, relevantChunks: .*line 1 judges by document ids/);
  });

  it("rejects a line without any judgment", () => {
    expect(rejection(jsonl({ question: "a" })).issues).toEqual([{ line: 1, path: "", message: expect.stringMatching(/at least one of relevantDocuments/) }]);
  });

  it("names an unknown field, the line and the fields it knows", () => {
    const error = rejection(jsonl({ question: "a", relevantDocuments: ["d"] }, { question: "b", relevantDocs: ["d"] }));
    expect(error.issues[0]).toMatchObject({ line: 2, message: expect.stringMatching(/unknown field "relevantDocs" \(known: id, question/) });
    expect(error.status).toBe(400);
  });

  it("reports a misspelt judgment field once, without also calling the line unjudged", () => {
    expect(rejection(jsonl({ question: "b", relevantDocs: ["d"] })).issues).toEqual([{ line: 1, path: "", message: expect.stringMatching(/^unknown field "relevantDocs"/) }]);
  });

  it("rejects duplicate question ids, also against a default line-number id", () => {
    const error = rejection(jsonl({ question: "a", relevantDocuments: ["d"] }, { id: "1", question: "b", relevantDocuments: ["d"] }));
    expect(error.issues).toEqual([{ line: 2, path: "id", message: expect.stringMatching(/duplicate question id "1" \(line 1 has it/) }]);
  });

  it("accepts every grade trec_eval reads, -127 to 127 (negative: in the pool, unjudged), as it is", () => {
    const graded = [-127, -1, 0, 4, 17, 127].map((grade, i) => ({ id: `d${i}`, grade }));
    expect(parseGoldenSet(jsonl({ id: "q", question: "a", graded })).questions[0]?.graded).toEqual(graded);
  });

  it("rejects out-of-range grades, duplicate ids in a list, a bad chunk reference and a relevant id graded 0 or below, each with its path", () => {
    const error = rejection(
      jsonl(
        { question: "a", graded: [{ id: "d", grade: 128 }, { id: "e", grade: -128 }] },
        { question: "b", relevantDocuments: ["d", "d"] },
        { question: "c", relevantChunks: ["not a ref"] },
        { question: "e", relevantDocuments: ["d"], graded: [{ id: "d", grade: 0 }] },
        { question: "f", graded: [{ id: "d", grade: 1.5 }] },
        "not json",
        "[1]",
        { question: "g", relevantDocuments: ["d"], graded: [{ id: "d", grade: -1 }] },
      ),
    );
    expect(error.issues.map((i) => [i.line, i.path])).toEqual([
      [1, "graded.0.grade"],
      [1, "graded.1.grade"],
      [2, "relevantDocuments.1"],
      [3, "relevantChunks.0"],
      [4, "graded.0.grade"],
      [5, "graded.0.grade"],
      [6, ""],
      [7, ""],
      [8, "graded.0.grade"],
    ]);
  });

  it("rejects an empty text", () => {
    expect(rejection("\n\n").issues).toEqual([{ line: 0, path: "", message: expect.stringMatching(/no questions/) }]);
  });

  it(`lists at most ${MAX_REPORTED_ERRORS} problems and counts the rest`, () => {
    const error = rejection(Array.from({ length: 80 }, () => "{}").join("\n"));
    expect(error.issues).toHaveLength(MAX_REPORTED_ERRORS);
    expect(error.details).toMatchObject({ total: 80 });
    expect(error.message).toMatch(/and 30 more$/);
  });
});

describe("parseChunkRef", () => {
  it("reads a chunk hash and a document ordinal, and nothing else", () => {
    expect(parseChunkRef(HASH)).toEqual({ kind: "hash", hash: HASH });
    expect(parseChunkRef("guide.md#12")).toEqual({ kind: "ordinal", documentId: "guide.md", ordinal: 12 });
    for (const bad of ["guide.md", "guide.md#", "guide.md#01", "#3", "A".repeat(64), "x#1#2"]) expect(parseChunkRef(bad), bad).toBeUndefined();
  });
});

// Generators of valid questions: trimmed non-empty text, ids without whitespace.
const word = fc.stringMatching(/^[A-Za-z0-9][A-Za-z0-9._-]{0,11}$/);
const text = fc.string({ minLength: 1, maxLength: 30 }).map((s) => s.trim()).filter((s) => s.length > 0);
const docIds = fc.uniqueArray(word, { minLength: 1, maxLength: 4 });
const documentQuestion = fc.record(
  {
    question: text,
    relevantDocuments: docIds,
    referenceContexts: fc.array(text, { minLength: 1, maxLength: 3 }),
    graded: fc.uniqueArray(fc.record({ id: word, grade: fc.integer({ min: 1, max: 127 }) }), { selector: (g) => g.id, minLength: 1, maxLength: 4 }),
    tags: fc.array(word, { maxLength: 3 }),
  },
  { requiredKeys: ["question", "relevantDocuments"] },
);
const questionSet = fc.uniqueArray(fc.tuple(word, documentQuestion), { selector: ([id]) => id, minLength: 1, maxLength: 8 }).map((rows) => rows.map(([id, q]) => ({ id, ...q }) as GoldenQuestion));

describe("golden set serialisation (property)", () => {
  it("parses any valid set back to the same questions after serialising it", () => {
    fc.assert(
      fc.property(questionSet, (questions) => {
        expect(parseGoldenSet(serializeGoldenSet(questions)).questions).toEqual(questions);
      }),
    );
  });

  const wrongField = fc.constantFrom<[string, unknown, string]>(
    ["question", "", "question"],
    ["question", 42, "question"],
    ["relevantDocuments", [], "relevantDocuments"],
    ["relevantDocuments", ["has space"], "relevantDocuments.0"],
    ["relevantChunks", ["nope"], "relevantChunks.0"],
    ["graded", [{ id: "d", grade: 200 }], "graded.0.grade"],
    ["graded", [{ id: "d", grade: 1, extra: true }], "graded.0"],
    ["tags", "t", "tags"],
    ["id", "", "id"],
    ["bogus", 1, ""],
  );

  it("reports any line with a wrong field with its line number and the field", () => {
    fc.assert(
      fc.property(questionSet, fc.nat(), wrongField, (questions, at, [field, value, path]) => {
        const lines = serializeGoldenSet(questions).trimEnd().split("\n");
        const index = at % lines.length;
        const broken = { ...(JSON.parse(lines[index] as string) as Record<string, unknown>), [field]: value };
        if (field === "relevantChunks") delete broken.relevantDocuments;
        lines[index] = JSON.stringify(broken);
        const error = rejection(lines.join("\n"));
        expect(error.issues.some((i) => i.line === index + 1 && i.path === path)).toBe(true);
        expect(error.issues.every((i) => i.line === index + 1)).toBe(true);
      }),
    );
  });
});
