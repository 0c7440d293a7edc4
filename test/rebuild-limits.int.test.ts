import { readFileSync } from "node:fs";
import { join } from "node:path";
import yauzl from "yauzl";
import yazl from "yazl";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putDocument, searchApi, startStack, uploadDocument, waitForJob, type Stack } from "./support/stack.js";

const MiB = 1024 * 1024;

/** The guide DOCX plus one part of zeros that inflates from a few KB to `paddingBytes`: a small zip bomb. */
async function docxBomb(paddingBytes: number): Promise<Buffer> {
  const guide = readFileSync(join(import.meta.dirname, "fixtures", "guide.docx"));
  const zip = new yazl.ZipFile();
  const source = await new Promise<yauzl.ZipFile>((resolve, reject) => yauzl.fromBuffer(guide, { lazyEntries: true }, (e, z) => (e ? reject(e) : resolve(z))));
  await new Promise<void>((resolve, reject) => {
    source.on("end", resolve);
    source.on("error", reject);
    source.on("entry", (entry: yauzl.Entry) =>
      source.openReadStream(entry, (error, stream) => {
        if (error) return reject(error);
        const parts: Buffer[] = [];
        stream.on("data", (part: Buffer) => parts.push(part));
        stream.on("end", () => {
          zip.addBuffer(Buffer.concat(parts), entry.fileName);
          source.readEntry();
        });
      }),
    );
    source.readEntry();
  });
  zip.addBuffer(Buffer.alloc(paddingBytes), "word/media/padding.bin", { compressionLevel: 9 });
  zip.end();
  const parts: Buffer[] = [];
  for await (const part of zip.outputStream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

const post = async (url: string, path: string, body: unknown) => {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-ragops-actor": "alice" }, body: JSON.stringify(body) });
  return (await response.json()) as Record<string, unknown>;
};

describe("a rebuild applies the configured zip-bomb limits (issue 9, item 7)", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
    await putDocument(stack.url, "dock", "# Charging dock\n\nMount the CD-10 charging dock against a solid wall with 1.2 metres of clear floor in front of it.\n");
    // Indexed while the limits were the defaults (200 MiB): it expands to 4 MiB.
    const upload = await uploadDocument(stack.url, { name: "bomb.docx", content: await docxBomb(4 * MiB), type: "application/vnd.openxmlformats-officedocument.wordprocessingml.document" }, {}, "PUT", "/v1/documents/bomb");
    const job = await waitForJob(stack.url, ((await upload.json()) as { jobId: string }).jobId, 60_000);
    expect(job.state, job.failedReason).toBe("completed");
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("fails the DOCX that expands past ingest.zipMaxUncompressedBytes with the zip-bomb reason, and builds the rest", async () => {
    // The operator tightens the limit (as a restart with a new config would); the running worker reads its config per job.
    stack.config.ingest.zipMaxUncompressedBytes = 1 * MiB;
    // Other chunking: the build must parse every document again.
    const created = await post(stack.url, "/v1/indexes", { version: "v2", config: { chunking: { sizeTokens: 300 } } });
    const job = await waitForJob(stack.url, String(created.buildJobId), 60_000);
    expect(job.state, job.failedReason).toBe("completed");
    expect(job.result).toMatchObject({ version: "v2", failed: [{ documentId: "bomb", reason: expect.stringMatching(/more than 1 MiB when unzipped \(zip bomb\?\)/) }] });
    // v2 holds the other document and nothing of the bomb; live (v1) is untouched.
    expect((await searchApi(stack.url, { query: "CD-10 charging dock", k: 5, index: "v2" })).body.results.map((r) => r.documentId)).toEqual(["dock"]);
    expect((await searchApi(stack.url, { query: "CD-10 charging dock", k: 5, index: "v1" })).body.results.map((r) => r.documentId)).toContain("bomb");
    const audit = (await (await fetch(`${stack.url}/v1/audit`)).json()) as { entries: Array<{ action: string; version?: string; reason?: string }> };
    expect(audit.entries.find((e) => e.action === "build-end" && e.version === "v2")?.reason).toMatch(/1 failed: bomb/);
  });
});
