import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { searchApi, startStack, uploadDocument, waitForJob, type Stack } from "./support/stack.js";

const fixture = (name: string) => readFileSync(join(import.meta.dirname, "fixtures", name));

interface SearchHit {
  documentId: string;
  text: string;
  headingPath: string[];
  pageStart?: number;
  pageEnd?: number;
  contentType: string;
}

describe("real documents end to end", () => {
  let stack: Stack;
  const jobs = new Map<string, string>();

  beforeAll(async () => {
    stack = await startStack({ queue: { concurrency: 2, backoffMs: 50 } });
    const uploads = ["manual.pdf", "guide.docx", "page.html", "notes.md", "utf16.txt", "latin1.txt", "truncated.pdf", "encrypted.pdf", "scanned.pdf", "random.pdf", "bomb.docx"];
    for (const name of uploads) {
      const response = await uploadDocument(stack.url, { name, content: fixture(name), type: "application/octet-stream" }, { id: name.replace(/\./g, "-") });
      expect(response.status, name).toBe(202);
      jobs.set(name, ((await response.json()) as { jobId: string }).jobId);
    }
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it.each([
    ["truncated.pdf", /PDF is truncated/],
    ["encrypted.pdf", /PDF is encrypted/],
    ["scanned.pdf", /no text layer/],
    ["random.pdf", /not a PDF/],
    ["bomb.docx", /zip bomb/],
  ])("fails the job of %s with a reason naming the problem, once, without retrying", async (name, reason) => {
    const job = await waitForJob(stack.url, jobs.get(name)!);
    expect(job.state).toBe("failed");
    expect(job.failedReason).toMatch(reason);
    const detail = (await (await fetch(`${stack.url}/v1/jobs/${jobs.get(name)}`)).json()) as { attemptsMade: number };
    expect(detail.attemptsMade).toBe(1);
    const record = (await (await fetch(`${stack.url}/v1/documents/${name.replace(/\./g, "-")}`)).json()) as { status: string; error: string };
    expect(record).toMatchObject({ status: "failed", error: expect.stringMatching(reason) });
  });

  it("rejects an empty file at upload with 422", async () => {
    const response = await uploadDocument(stack.url, { name: "empty.txt", content: fixture("empty.txt") });
    expect(response.status).toBe(422);
  });

  it("indexes every good document alongside the bad ones", async () => {
    for (const name of ["manual.pdf", "guide.docx", "page.html", "notes.md", "utf16.txt", "latin1.txt"]) {
      const job = await waitForJob(stack.url, jobs.get(name)!);
      expect(job, name).toMatchObject({ state: "completed" });
    }
  });

  it("finds a PDF passage with its heading path and page", async () => {
    const { body } = await searchApi(stack.url, { query: "quarterly task drain the volute and replace the mechanical seal kit", k: 3 });
    const hit = body.results[0] as unknown as SearchHit;
    expect(hit).toMatchObject({ documentId: "manual-pdf", contentType: "application/pdf", headingPath: ["Kestrel Pump Service Manual", "Maintenance"] });
    expect(hit.pageStart).toBeGreaterThanOrEqual(1);
    expect(hit.pageEnd).toBeGreaterThanOrEqual(hit.pageStart!);
  });

  it.each([
    ["Heron scanner pairing barcode on the cradle", "guide-docx", ["Pairing"]],
    ["direct thermal labels millimetre core", "page-html", ["Osprey Label Printer FAQ", "Which labels fit?"]],
    // notes.md is small enough to be one chunk, so its path is the heading all of it sits under.
    ["merlinctl set bus address fieldbus", "notes-md", ["Merlin gateway setup notes"]],
    ["Plover humidity sensor café", "utf16-txt", []],
    ["Grebe valve rated closes", "latin1-txt", []],
  ])("finds %j in %s under its heading", async (query, documentId, headingPath) => {
    const { body } = await searchApi(stack.url, { query, k: 1 });
    expect(body.results[0]).toMatchObject({ documentId, headingPath });
  });

  it("keeps hidden and script text out of the index", async () => {
    const { body } = await searchApi(stack.url, { query: "Limited offer hidden promotional banner tracking pixel analytics", k: 10, filter: { documentId: "page-html" } });
    for (const hit of body.results) expect(hit.text).not.toMatch(/Limited offer|tracking pixel/);
  });
});
