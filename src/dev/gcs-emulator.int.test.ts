import { Storage, type GetFilesOptions } from "@google-cloud/storage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { crc32c, startGcsEmulator, type GcsEmulator } from "./gcs-emulator.js";

/** What the emulator answers the real client, beyond what the GCS store's tests reach. */
describe("GCS emulator", () => {
  let emulator: GcsEmulator;
  let storage: Storage;
  beforeAll(async () => {
    emulator = await startGcsEmulator();
    storage = new Storage({ apiEndpoint: emulator.url, projectId: "test" });
  });
  afterAll(async () => {
    await emulator.close();
  });

  it("computes CRC-32C as GCS does (the RFC 3720 check value)", () => {
    expect(Buffer.from(crc32c(Buffer.from("123456789")), "base64").readUInt32BE()).toBe(0xe3069283);
  });

  it("lists with a delimiter as GCS does: folders once each in prefixes, paged with the objects", async () => {
    const bucket = storage.bucket("delimited");
    for (const name of ["a/1", "a/2", "b/1", "c", "d", "e/f/g"]) await bucket.file(name).save(name, { resumable: false });
    const pages: Array<{ items: string[]; prefixes: string[] }> = [];
    let query: GetFilesOptions | null = { delimiter: "/", maxResults: 2, autoPaginate: false };
    while (query) {
      const [files, next, response]: [Array<{ name: string }>, GetFilesOptions | null, unknown] = await bucket.getFiles(query);
      pages.push({ items: files.map((f) => f.name), prefixes: (response as { prefixes?: string[] }).prefixes ?? [] });
      query = next ? { ...next, autoPaginate: false } : null;
    }
    expect(pages).toEqual([
      { items: [], prefixes: ["a/", "b/"] },
      { items: ["c", "d"], prefixes: [] },
      { items: [], prefixes: ["e/"] },
    ]);
  });

  it("downloads only the generation asked for, and 404s one that is gone", async () => {
    const file = storage.bucket("pinned").file("x");
    await file.save("one", { resumable: false });
    const first = String(file.metadata.generation);
    await file.save("two", { resumable: false });
    await expect(storage.bucket("pinned").file("x", { generation: first }).download()).rejects.toMatchObject({ code: 404 });
    expect(String((await storage.bucket("pinned").file("x", { generation: String(file.metadata.generation) }).download())[0])).toBe("two");
  });

  it("refuses a chunk that is not the last and not a multiple of 256 KiB, as GCS does", async () => {
    const [session] = await storage.bucket("chunks").file("y").createResumableUpload();
    const response = await fetch(session, { method: "PUT", headers: { "content-range": "bytes 0-999/*" }, body: Buffer.alloc(1000) });
    expect(response.status).toBe(400);
  });
});
