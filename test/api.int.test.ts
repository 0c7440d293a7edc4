import { request } from "node:http";
import { Readable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { searchApi, startStack, uploadDocument, waitForJob, type Stack } from "./support/stack.js";

const DOCK = `---
title: Charging Dock Setup
tags: [hardware, product]
---
# Charging Dock Setup

## Placement

Mount the CD-10 charging dock against a solid wall with 1.2 metres of clear floor in front of it.

## Power

Put the dock on a dedicated 16 amp circuit breaker and never share it with conveyor motors.
`;

const EXPENSES = `Travel and expenses

Hotel stays are reimbursed up to 180 EUR per night in high-cost cities; keep every receipt above 25 EUR.
`;

async function listUploads(stack: Stack): Promise<string[]> {
  const keys: string[] = [];
  for await (const meta of stack.runtime.store.list("uploads/")) keys.push(meta.key);
  return keys;
}

describe("control plane end to end", () => {
  let stack: Stack;
  let dockId: string;

  beforeAll(async () => {
    stack = await startStack({ http: { port: 0, maxUploadBytes: 256 * 1024 } });
    const response = await uploadDocument(stack.url, { name: "charging-dock.md", content: DOCK }, { id: "dock" });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { documentId: string; jobId: string; version: number };
    expect(body).toMatchObject({ documentId: "dock", version: 1 });
    dockId = body.documentId;
    expect((await waitForJob(stack.url, body.jobId)).state).toBe("completed");
  });

  afterAll(async () => {
    await stack?.stop();
  });

  async function dockStillFirst(): Promise<void> {
    const { status, body } = await searchApi(stack.url, { query: "dedicated 16 amp circuit breaker for the dock", k: 3 });
    expect(status).toBe(200);
    expect(body.results[0]?.documentId).toBe(dockId);
  }

  it("returns a chunk of an uploaded Markdown document first for a sentence from it", async () => {
    const { body } = await searchApi(stack.url, { query: "Mount the CD-10 charging dock against a solid wall", k: 5 });
    // Both sections are below the minimum size, so they share one chunk under their common heading.
    expect(body.results[0]).toMatchObject({ documentId: "dock", title: "Charging Dock Setup", headingPath: ["Charging Dock Setup"] });
    expect(body.results[0]?.text).toContain("1.2 metres of clear floor");
    const record = (await (await fetch(`${stack.url}/v1/documents/dock`)).json()) as Record<string, unknown>;
    expect(record).toMatchObject({ id: "dock", status: "indexed", version: 1, indexedVersion: 1, contentType: "text/markdown", tags: [] });
    expect(record.chunkCount).toBeGreaterThan(0);
  });

  it("reports job state and progress", async () => {
    const response = await uploadDocument(stack.url, { name: "expenses.txt", content: EXPENSES, type: "text/plain" }, { id: "expenses", tags: "policy" });
    const { jobId } = (await response.json()) as { jobId: string };
    const done = await waitForJob(stack.url, jobId);
    expect(done.state).toBe("completed");
    const job = (await (await fetch(`${stack.url}/v1/jobs/${jobId}`)).json()) as Record<string, unknown>;
    expect(job).toMatchObject({ id: jobId, name: "ingest", state: "completed", progress: { stage: "done", percent: 100 }, documentId: "expenses", version: 1 });
    const { body } = await searchApi(stack.url, { query: "hotel receipt", filter: { tags: ["policy"] } });
    expect(body.results.map((r) => r.documentId)).toEqual(["expenses"]);
  });

  it("replaces a document with PUT: the new text is found, the old text is gone", async () => {
    const replaced = `# Notes\n\nThe quartz gearbox hums at dawn.\n`;
    const response = await uploadDocument(stack.url, { name: "notes.md", content: "# Notes\n\nThe copper pendulum swings at midnight.\n" }, {}, "PUT", "/v1/documents/notes");
    expect(((await response.json()) as { created: boolean }).created).toBe(true);
    const second = await uploadDocument(stack.url, { name: "notes.md", content: replaced }, {}, "PUT", "/v1/documents/notes");
    const { jobId, version } = (await second.json()) as { jobId: string; version: number };
    expect(version).toBe(2);
    expect((await waitForJob(stack.url, jobId)).state).toBe("completed");
    const texts = async (query: string) => (await searchApi(stack.url, { query, k: 10, filter: { documentId: "notes" } })).body.results.map((r) => r.text).join("\n");
    expect(await texts("quartz gearbox")).toContain("quartz gearbox");
    expect(await texts("copper pendulum")).not.toContain("copper pendulum");
  });

  it("deletes a document: DELETE, the job completes, and search no longer returns it", async () => {
    const created = await uploadDocument(stack.url, { name: "walrus.md", content: "# Walrus\n\nThe walrus migration manual describes tusk polishing.\n" }, { id: "walrus" });
    await waitForJob(stack.url, ((await created.json()) as { jobId: string }).jobId);
    expect((await searchApi(stack.url, { query: "walrus tusk polishing" })).body.results[0]?.documentId).toBe("walrus");

    const deleted = await fetch(`${stack.url}/v1/documents/walrus`, { method: "DELETE" });
    expect(deleted.status).toBe(202);
    const { jobId } = (await deleted.json()) as { jobId: string };
    expect((await waitForJob(stack.url, jobId)).state).toBe("completed");
    const after = await searchApi(stack.url, { query: "walrus tusk polishing", k: 20 });
    expect(after.body.results.map((r) => r.documentId)).not.toContain("walrus");
    expect((await fetch(`${stack.url}/v1/documents/walrus`)).status).toBe(404);
    await dockStillFirst();
  });

  describe("bad uploads get a clear 4xx and harm nothing", () => {
    it("rejects an empty file with 422", async () => {
      const response = await uploadDocument(stack.url, { name: "empty.md", content: "" });
      expect(response.status).toBe(422);
      expect(await response.json()).toMatchObject({ error: { code: "unprocessable_document", message: expect.stringContaining("empty") } });
      await dockStillFirst();
    });

    it("rejects a streamed upload over the size limit with 413 before the client has sent it all", async () => {
      const total = 64 * 1024 * 1024;
      let produced = 0;
      const boundary = "----ragops-test-boundary";
      const head = Buffer.from(`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="huge.md"\r\nContent-Type: text/markdown\r\n\r\n`);
      const body = new Readable({
        read() {
          if (produced === 0) this.push(head);
          if (produced >= total) return void this.push(null);
          produced += 64 * 1024;
          this.push(Buffer.alloc(64 * 1024, "x"));
        },
      });
      const status = await new Promise<{ status: number; json: { error: { code: string; message: string } } }>((resolve, reject) => {
        const req = request(`${stack.url}/v1/documents`, { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${boundary}` } }, (res) => {
          const parts: Buffer[] = [];
          res.on("data", (part: Buffer) => parts.push(part));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(parts).toString()) }));
        });
        req.on("error", reject);
        body.pipe(req);
      });
      body.destroy();
      expect(status.status).toBe(413);
      expect(status.json.error.message).toContain("262144 bytes");
      expect(produced).toBeLessThan(total / 2);
    });

    it("rejects a declared Content-Length over the limit without reading the body", async () => {
      const response = await fetch(`${stack.url}/v1/documents`, {
        method: "POST",
        headers: { "content-type": "multipart/form-data; boundary=x", "content-length": String(10 * 1024 * 1024) },
        body: Buffer.alloc(10 * 1024 * 1024),
      });
      expect(response.status).toBe(413);
      await dockStillFirst();
    });

    it("names an unknown form field in a 400", async () => {
      const response = await uploadDocument(stack.url, { name: "x.md", content: "# X\n\ntext" }, { colour: "blue" });
      expect(response.status).toBe(400);
      expect(await response.json()).toMatchObject({ error: { code: "unknown_field", message: expect.stringContaining('"colour"') } });
      await dockStillFirst();
    });

    it.each([
      ["a document id in the path", () => uploadDocument(stack.url, { name: "x.md", content: "# X\n\nt" }, {}, "PUT", "/v1/documents/..%2F..%2Fetc%2Fpasswd")],
      ["a document id in the form", () => uploadDocument(stack.url, { name: "x.md", content: "# X\n\nt" }, { id: "../../etc/passwd" })],
      ["the file name", () => uploadDocument(stack.url, { name: "../../etc/passwd", content: "# X\n\nt", type: "text/plain" })],
    ])("rejects a path traversal attempt in %s with 400", async (_where, send) => {
      const response = await send();
      expect(response.status).toBe(400);
      const body = (await response.json()) as { error: { message: string } };
      expect(body.error.message).toMatch(/passwd/);
      await dockStillFirst();
    });

    it("rejects an unsupported file type with 415", async () => {
      const response = await uploadDocument(stack.url, { name: "photo.jpg", content: new Uint8Array([0xff, 0xd8, 0xff]), type: "image/jpeg" });
      expect(response.status).toBe(415);
      await dockStillFirst();
    });

    it("fails the job of a binary file named .txt with a reason, leaving other documents searchable", async () => {
      const junk = new Uint8Array(4096).map((_, i) => (i * 7919) % 256);
      const response = await uploadDocument(stack.url, { name: "junk.txt", content: junk, type: "text/plain" }, { id: "junk" });
      expect(response.status).toBe(202);
      const { jobId } = (await response.json()) as { jobId: string };
      const job = await waitForJob(stack.url, jobId);
      expect(job.state).toBe("failed");
      expect(job.failedReason).toMatch(/not valid UTF-8|NUL bytes/);
      const record = (await (await fetch(`${stack.url}/v1/documents/junk`)).json()) as { status: string; error: string };
      expect(record).toMatchObject({ status: "failed", error: job.failedReason });
      await dockStillFirst();
    });

    it("keeps no stray upload after any rejected upload", async () => {
      const current = new Set<string>();
      for (const id of ["dock", "expenses", "notes", "junk"]) {
        const record = (await (await fetch(`${stack.url}/v1/documents/${id}`)).json()) as { rawKey: string };
        current.add(record.rawKey);
      }
      expect(new Set(await listUploads(stack))).toEqual(current);
    });
  });

  describe("search requests", () => {
    it("names an unknown field", async () => {
      const { status, body } = await searchApi(stack.url, { query: "dock", topK: 3 });
      expect(status).toBe(400);
      expect(body.error).toMatchObject({ code: "unknown_field", message: expect.stringContaining('"topK"') });
    });

    it("rejects k above the maximum and an empty query", async () => {
      expect((await searchApi(stack.url, { query: "dock", k: 10_000 })).body.error?.message).toMatch(/k must be at most 100/);
      expect((await searchApi(stack.url, { query: "  " })).body.error?.message).toMatch(/query must not be empty/);
    });

    it("rejects a body that is not JSON", async () => {
      const response = await fetch(`${stack.url}/v1/search`, { method: "POST", headers: { "content-type": "application/json" }, body: "{nope" });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/not valid JSON/);
    });
  });

  it("answers health and readiness, and 404 for unknown jobs and routes", async () => {
    expect(await (await fetch(`${stack.url}/healthz`)).json()).toEqual({ status: "ok" });
    const ready = await fetch(`${stack.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(((await ready.json()) as { checks: Record<string, string> }).checks.redis).toBe("ok");
    expect((await fetch(`${stack.url}/v1/jobs/nope`)).status).toBe(404);
    const missing = await fetch(`${stack.url}/v2/nothing`);
    expect(missing.status).toBe(404);
    expect(await missing.json()).toMatchObject({ error: { code: "not_found", requestId: expect.any(String) } });
  });
});
