import { spawn, type ChildProcess } from "node:child_process";
import { mkdtempSync, readdirSync, readlinkSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, inject, it, vi } from "vitest";
import { startStack, uploadDocument, type Stack } from "./support/stack.js";

/**
 * Uploads as real clients send them, good and broken: aborted mid-body, UTF-8
 * file names, bad form fields, and early rejections read by Node's fetch.
 */
const MAX_UPLOAD = 64 * 1024;
const BOUNDARY = "----ragops-upload-test";

describe("uploads", () => {
  let stack: Stack;
  let tmpDir: string;

  beforeAll(async () => {
    stack = await startStack({ http: { port: 0, maxUploadBytes: MAX_UPLOAD } });
    tmpDir = join(stack.config.dataDir, "objects", ".tmp");
    const logger = stack.runtime.logger;
    const info = logger.info.bind(logger) as (...args: unknown[]) => void;
    vi.spyOn(logger, "info").mockImplementation(((first: unknown, ...rest: unknown[]) => {
      if (rest[0] === "upload not stored") waiting.shift()?.(first as { code: string });
      info(first, ...rest);
    }) as never);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  /** Descriptors of this process (the server runs in it) that point into the store's temp directory. */
  function tempFds(): string[] {
    const open: string[] = [];
    for (const fd of readdirSync("/proc/self/fd")) {
      try {
        const target = readlinkSync(`/proc/self/fd/${fd}`);
        if (target.startsWith(tmpDir)) open.push(target);
      } catch {
        // closed between readdir and readlink
      }
    }
    return open;
  }

  function tempFiles(): string[] {
    try {
      return readdirSync(tmpDir);
    } catch {
      return [];
    }
  }

  /** What the server logged, in order, each time it gave an upload up (after its cleanup ran). */
  // One waiter per rejection, so that n concurrent uploads wait for n rejections.
  const waiting: Array<(logged: { code: string }) => void> = [];
  function nextRejectedUpload(): Promise<{ code: string }> {
    return new Promise((resolve) => waiting.push(resolve));
  }

  function multipartHead(filename = "slow.md"): Buffer {
    return Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="${filename}"\r\nContent-Type: text/markdown\r\n\r\n`);
  }

  /** Sends a request head declaring `contentLength`, then `body`, on a raw socket. */
  function sendPartialUpload(body: Buffer, contentLength: number): Socket {
    const url = new URL(stack.url);
    const socket = connect(Number(url.port), url.hostname);
    socket.on("error", () => undefined);
    socket.write(`POST /v1/documents HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: multipart/form-data; boundary=${BOUNDARY}\r\nContent-Length: ${contentLength}\r\n\r\n`);
    socket.write(body);
    return socket;
  }

  /** Waits until the server streams every upload into a temp file it holds open, then drops the connections. */
  async function abortWhileStreaming(count: number): Promise<Array<{ code: string }>> {
    const rejected = Array.from({ length: count }, () => nextRejectedUpload());
    const sockets = Array.from({ length: count }, () => sendPartialUpload(partialFile(4 * 1024), MAX_UPLOAD));
    await vi.waitFor(
      () => {
        expect(tempFiles()).toHaveLength(count);
        expect(tempFds()).toHaveLength(count);
      },
      { timeout: 20_000, interval: 20 },
    );
    for (const socket of sockets) socket.destroy();
    return Promise.all(rejected);
  }

  const partialFile = (bytes: number) => Buffer.concat([multipartHead(), Buffer.alloc(bytes, "a")]);

  describe("an upload that does not complete leaves no temp file and no open descriptor", () => {
    it("when the client destroys the connection mid-file", async () => {
      await abortWhileStreaming(1);
      expect(tempFiles()).toEqual([]);
      expect(tempFds()).toEqual([]);
    });

    it("after many uploads aborted at once", async () => {
      await abortWhileStreaming(8);
      expect(tempFiles()).toEqual([]);
      expect(tempFds()).toEqual([]);
    });

    it("when the multipart body ends without its closing boundary", async () => {
      const rejected = nextRejectedUpload();
      const body = partialFile(8 * 1024);
      const socket = sendPartialUpload(body, body.length);
      expect((await rejected).code).toBe("invalid_request");
      socket.destroy();
      expect(tempFiles()).toEqual([]);
      expect(tempFds()).toEqual([]);
    });

    it("when the file goes over the size limit", async () => {
      const rejected = nextRejectedUpload();
      const response = await uploadDocument(stack.url, { name: "big.md", content: new Uint8Array(MAX_UPLOAD * 2).fill(0x61) });
      expect(response.status).toBe(413);
      expect((await rejected).code).toBe("payload_too_large");
      expect(tempFiles()).toEqual([]);
      expect(tempFds()).toEqual([]);
    });
  });

  describe("file names", () => {
    async function storedFilename(response: Response): Promise<string> {
      expect(response.status).toBe(202);
      const { documentId } = (await response.json()) as { documentId: string };
      const record = (await (await fetch(`${stack.url}/v1/documents/${documentId}`)).json()) as { filename: string; source: string };
      expect(record.source).toBe(record.filename);
      return record.filename;
    }

    // Characters a file name may hold: anything printable but path separators. Fetch
    // (like browsers) sends '"' as %22 and does not escape '%', so a '"' cannot be told
    // apart from a literal "%22" and is left out. Names are kept in Unicode NFC.
    const nameChar = fc.string({ unit: "binary", minLength: 1, maxLength: 40 }).filter((s) => !/[\p{Cc}\p{Cs}/\\"]/u.test(s));
    const filename = nameChar.map((stem) => `${stem}.md`.normalize("NFC")).filter((name) => name.length <= 255);

    it("keeps any printable Unicode file name as sent", async () => {
      await fc.assert(
        fc.asyncProperty(filename, async (name) => {
          expect(await storedFilename(await uploadDocument(stack.url, { name, content: "# Name\n\nA document with an unusual name.\n" }))).toBe(name);
        }),
        { numRuns: 40 },
      );
    });

    it("decodes an RFC 5987 filename* parameter", async () => {
      const body = Buffer.concat([
        Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; filename="resume.md"; filename*=UTF-8''r%C3%A9sum%C3%A9%20%E2%9C%93.md\r\nContent-Type: text/markdown\r\n\r\n`),
        Buffer.from("# CV\n\nExperience.\n"),
        Buffer.from(`\r\n--${BOUNDARY}--\r\n`),
      ]);
      const response = await fetch(`${stack.url}/v1/documents`, { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}` }, body });
      expect(await storedFilename(response)).toBe("résumé ✓.md");
    });

    it.each([
      ["a relative path", `filename="../../etc/passwd.md"`],
      ["a Windows path", `filename="C:\\\\Users\\\\me\\\\passwd.md"`],
      ["a percent-encoded path in filename*", `filename*=UTF-8''..%2F..%2Fetc%2Fpasswd.md`],
      ["a NUL in filename*", `filename*=UTF-8''passwd%00.md`],
    ])("refuses %s as a file name", async (_what, param) => {
      const body = Buffer.from(`--${BOUNDARY}\r\nContent-Disposition: form-data; name="file"; ${param}\r\nContent-Type: text/markdown\r\n\r\n# X\n\nx\r\n--${BOUNDARY}--\r\n`);
      const response = await fetch(`${stack.url}/v1/documents`, { method: "POST", headers: { "content-type": `multipart/form-data; boundary=${BOUNDARY}` }, body });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/passwd/);
    });
  });

  describe("form fields", () => {
    it("names the field that holds a control character", async () => {
      for (const field of ["title", "source"]) {
        const response = await uploadDocument(stack.url, { name: "x.md", content: "# X\n\nx\n" }, { [field]: "Quarterly\u001b[31m report" });
        expect(response.status).toBe(400);
        const { error } = (await response.json()) as { error: { code: string; message: string } };
        expect(error.code).toBe("invalid_request");
        expect(error.message).toMatch(new RegExp(`^${field}: .*control character`));
      }
    });

    it("refuses a date that is not on the calendar", async () => {
      const response = await uploadDocument(stack.url, { name: "x.md", content: "# X\n\nx\n" }, { date: "2026-13-45" });
      expect(response.status).toBe(400);
      expect(((await response.json()) as { error: { message: string } }).error.message).toMatch(/^date: /);
    });

    it("stores a valid date, title and source", async () => {
      const response = await uploadDocument(stack.url, { name: "x.md", content: "# X\n\nx\n" }, { date: "2024-02-29", title: "Leap — day", source: "https://example.com/x" });
      expect(response.status).toBe(202);
      const { documentId } = (await response.json()) as { documentId: string };
      expect(await (await fetch(`${stack.url}/v1/documents/${documentId}`)).json()).toMatchObject({ date: "2024-02-29", title: "Leap — day", source: "https://example.com/x" });
    });
  });
});

/**
 * The server runs in its own process here: in one process the client never
 * sees the connection reset that makes Node's fetch report `write EPIPE`.
 */
/** A control plane in its own process (in one process the EPIPE never shows), ready when it says where it listens. */
async function spawnServer(env: Record<string, string>): Promise<{ url: string; stop(): Promise<void> }> {
  const dataDir = mkdtempSync(join(tmpdir(), "ragops-refusals-"));
  const server: ChildProcess = spawn(process.execPath, ["--import", "tsx", "src/cli/main.ts", "serve"], {
    env: { ...process.env, REDIS_URL: inject("redisUrl"), RAGOPS_DATA_DIR: dataDir, RAGOPS_REDIS_PREFIX: `refusals${process.pid}`, PORT: "0", ...env },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const url = await new Promise<string>((resolve, reject) => {
    let stderr = "";
    server.stderr?.on("data", (data: Buffer) => {
      stderr += data.toString();
      const listening = /control plane on (http:\/\/\S+)/.exec(stderr);
      if (listening?.[1]) resolve(listening[1]);
    });
    server.once("exit", (code) => reject(new Error(`the server exited with ${code}: ${stderr}`)));
  });
  return {
    url,
    stop: async () => {
      if (server.exitCode === null) {
        const exited = new Promise((resolve) => server.once("exit", resolve));
        server.kill("SIGTERM");
        await exited;
      }
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

async function errorOf(response: Response): Promise<{ status: number; code: string; message: string }> {
  const { error } = (await response.json()) as { error: { code: string; message: string } };
  return { status: response.status, ...error };
}

// Each case a few times: whether the reset beats the answer is a race.
const attempts = Array.from({ length: 5 }, (_, i) => i + 1);

describe("uploads refused before the body is read, by the token or the Host check, can be read by Node's fetch", () => {
  const content = new Uint8Array(8 * 1024 * 1024).fill(0x61);
  let withTokens: Awaited<ReturnType<typeof spawnServer>>;
  let open: Awaited<ReturnType<typeof spawnServer>>;

  beforeAll(async () => {
    [withTokens, open] = await Promise.all([spawnServer({ RAGOPS_API_TOKENS: "alice:0123456789abcdef0" }), spawnServer({})]);
  });

  afterAll(async () => {
    await Promise.all([withTokens?.stop(), open?.stop()]);
  });

  it.each(attempts)("answers an upload without a token with a readable 401 (attempt %i)", async () => {
    const response = await uploadDocument(withTokens.url, { name: "big.md", content });
    expect(await errorOf(response)).toMatchObject({ status: 401, code: "unauthorized", message: expect.stringContaining("Authorization: Bearer") });
  });

  it.each(attempts)("answers a cross-site upload in open mode with a readable 403 (attempt %i)", async () => {
    const form = new FormData();
    form.append("file", new Blob([content], { type: "text/markdown" }), "big.md");
    const response = await fetch(`${open.url}/v1/documents`, { method: "POST", body: form, headers: { origin: "https://attacker.example" } });
    expect(await errorOf(response)).toMatchObject({ status: 403 });
  });
});

describe("refused uploads can be read by Node's fetch", () => {
  const maxUploadBytes = 1024 * 1024;
  let server: Awaited<ReturnType<typeof spawnServer>>;
  let url: string;

  beforeAll(async () => {
    server = await spawnServer({ RAGOPS_MAX_UPLOAD_BYTES: String(maxUploadBytes) });
    url = server.url;
  });

  afterAll(async () => {
    await server?.stop();
  });

  it.each(attempts)("answers an upload declared over the limit with a readable 413 (attempt %i)", async () => {
    const response = await uploadDocument(url, { name: "huge.md", content: new Uint8Array(3 * maxUploadBytes).fill(0x61) });
    expect(await errorOf(response)).toMatchObject({ status: 413, code: "payload_too_large", message: expect.stringContaining(`${maxUploadBytes} bytes`) });
  });

  it.each(attempts)("answers an upload that goes over the limit while streaming with a readable 413 (attempt %i)", async () => {
    const response = await uploadDocument(url, { name: "big.md", content: new Uint8Array(maxUploadBytes + 512 * 1024).fill(0x61) });
    expect(await errorOf(response)).toMatchObject({ status: 413, code: "payload_too_large" });
  });

  it.each(attempts)("answers an unknown field sent before a large file with a readable 400 (attempt %i)", async () => {
    const response = await uploadDocument(url, { name: "big.md", content: new Uint8Array(maxUploadBytes + 900 * 1024).fill(0x61) }, { colour: "blue" });
    expect(await errorOf(response)).toMatchObject({ status: 400, code: "unknown_field", message: expect.stringContaining('"colour"') });
  });

  it.each(attempts)("answers a bad title sent before a large file with a readable 400 (attempt %i)", async () => {
    const response = await uploadDocument(url, { name: "big.md", content: new Uint8Array(maxUploadBytes + 900 * 1024).fill(0x61) }, { title: "a\u0000b" });
    expect(await errorOf(response)).toMatchObject({ status: 400, code: "invalid_request", message: expect.stringMatching(/^title: .*control characters/) });
  });

  it("serves the next request on the same connection after a refused upload", async () => {
    const refused = await uploadDocument(url, { name: "big.md", content: new Uint8Array(maxUploadBytes + 900 * 1024).fill(0x61) }, { colour: "blue" });
    expect(refused.status).toBe(400);
    expect(refused.headers.get("connection")).not.toBe("close");
    await refused.body?.cancel();
    expect((await fetch(`${url}/healthz`)).status).toBe(200);
  });
});
