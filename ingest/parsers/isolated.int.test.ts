import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { UnprocessableDocumentError } from "../../src/errors.js";
import { createParsePool } from "./isolated.js";

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "..", "..", "test", "fixtures", name));

describe("parsing in an isolated thread pool", () => {
  const pool = createParsePool({ threads: 2, timeoutMs: 20_000, maxMemoryMb: 256 });
  afterAll(() => pool.close());

  it("returns the parsed document", async () => {
    const doc = await pool.parse(fixture("manual.pdf"), { filename: "manual.pdf" });
    expect(doc.kind).toBe("pdf");
    expect(doc.sections.length).toBe(5);
  });

  it("brings back the parser's typed error", async () => {
    const error = await pool.parse(fixture("encrypted.pdf"), { filename: "encrypted.pdf" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(Error);
    expect(error).toMatchObject({ code: "unprocessable_document", message: expect.stringMatching(/encrypted/) });
  });

  it("stops a parse that runs past the time limit, and fails only that parse", async () => {
    const hasty = createParsePool({ threads: 1, timeoutMs: 5, maxMemoryMb: 256 });
    const slow = hasty.parse(fixture("manual.pdf"), { filename: "manual.pdf" }).catch((e: unknown) => e);
    const fine = pool.parse(fixture("notes.md"), { filename: "notes.md" });
    const error = await slow;
    expect(error).toBeInstanceOf(UnprocessableDocumentError);
    expect((error as Error).message).toMatch(/took longer than 0 s and was stopped/);
    expect((await fine).kind).toBe("markdown");
    await hasty.close();
  });

  it("stops a parse whose memory grows past the limit, and goes on with the next document", async () => {
    // 4.5 MB of Markdown that becomes hundreds of MB of syntax tree.
    const big = Buffer.from("# h\n\n- a *b* `c`\n\n".repeat(250_000));
    const small = createParsePool({ threads: 1, timeoutMs: 60_000, maxMemoryMb: 64 });
    const error = await small.parse(big, { filename: "big.md" }).catch((e: unknown) => e);
    expect((error as Error).message).toMatch(/more than 64 MB of memory/);
    // The pool replaces the thread it lost and goes on parsing.
    expect((await small.parse(fixture("notes.md"), { filename: "notes.md" })).kind).toBe("markdown");
    await small.close();
  });
});
