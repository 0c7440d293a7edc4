import { existsSync, readdirSync, rmSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { join } from "node:path";
import { loadConfig } from "../config/load.js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { Queue } from "bullmq";
import { createLifecycleQueue } from "../src/queues/lifecycle-queue.js";
import { startServer, type RunningServer } from "../src/http/server.js";
import { newToken } from "../src/http/tokens.js";
import { openRuntime, type Runtime } from "../src/runtime.js";
import { testConfig } from "./support/stack.js";

/** The control plane alone (no worker: jobs stay queued), on real Redis. */
interface ControlPlane {
  runtime: Runtime;
  server: RunningServer;
  url: string;
  stop(): Promise<void>;
}

async function startControlPlane(overrides: Record<string, unknown>): Promise<ControlPlane> {
  const config = testConfig(overrides);
  const runtime = await openRuntime(config);
  const server = await startServer(runtime);
  return {
    runtime,
    server,
    url: server.url,
    stop: async () => {
      await server.close(500);
      await runtime.queue.obliterate({ force: true }).catch(() => undefined);
      await runtime.close();
      rmSync(config.dataDir, { recursive: true, force: true });
    },
  };
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` });
const json = { "content-type": "application/json" };

async function errorOf(response: Response): Promise<{ code: string; message: string }> {
  return ((await response.json()) as { error: { code: string; message: string } }).error;
}

function uploadForm(id: string): FormData {
  const form = new FormData();
  form.append("id", id);
  form.append("file", new Blob(["# Limits\n\nA small document."], { type: "text/markdown" }), `${id}.md`);
  return form;
}

/** A raw TCP connection to the server, and a promise of everything it sends until it closes. */
function openSocket(url: string): { socket: Socket; received: Promise<string>; connected: Promise<void> } {
  const { hostname, port } = new URL(url);
  const socket = connect(Number(port), hostname);
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  const received = new Promise<string>((resolve) => socket.once("close", () => resolve(Buffer.concat(chunks).toString("utf8"))));
  const connected = new Promise<void>((resolve, reject) => {
    socket.once("connect", () => resolve());
    socket.once("error", reject);
  });
  socket.on("error", () => undefined);
  return { socket, received, connected };
}

describe("rate limits, per token and per address, counted in Redis", () => {
  const reader = newToken();
  const otherReader = newToken();
  const uploader = newToken();
  let plane: ControlPlane;

  beforeAll(async () => {
    plane = await startControlPlane({
      auth: {
        tokens: {
          "search-app": { hash: reader.hash, roles: ["reader"] },
          "other-app": { hash: otherReader.hash, roles: ["reader"] },
          uploader: { hash: uploader.hash, roles: ["content"] },
        },
      },
      limits: { rate: { windowSeconds: 60, searchPerToken: 3, searchPerAddress: 5, uploadsPerToken: 1, authFailuresPerAddress: 3 } },
    });
  });

  afterAll(async () => {
    await plane?.stop();
  });

  const search = (token: string) => fetch(`${plane.url}/v1/search`, { method: "POST", headers: { ...json, ...bearer(token) }, body: JSON.stringify({ query: "dock" }) });

  it("answers 429 with Retry-After to a token past its search limit, and to the address past its own", async () => {
    for (let i = 0; i < 3; i += 1) expect((await search(reader.token)).status).toBe(200);
    const refused = await search(reader.token);
    expect(refused.status).toBe(429);
    const retryAfter = Number(refused.headers.get("retry-after"));
    expect(retryAfter).toBeGreaterThanOrEqual(1);
    expect(retryAfter).toBeLessThanOrEqual(60);
    expect((await errorOf(refused)).message).toMatch(/3 searches per token every 60 s \(limits\.rate\.searchPerToken\)/);

    // The address has made 4 searches: the other token has one left before the address limit (5).
    expect((await search(otherReader.token)).status).toBe(200);
    const byAddress = await search(otherReader.token);
    expect(byAddress.status).toBe(429);
    expect((await errorOf(byAddress)).message).toMatch(/limits\.rate\.searchPerAddress/);
  });

  it("answers 429 to uploads past the token's limit, before reading them", async () => {
    const first = await fetch(`${plane.url}/v1/documents`, { method: "POST", headers: bearer(uploader.token), body: uploadForm("first") });
    expect(first.status, await first.clone().text()).toBe(202);
    const second = await fetch(`${plane.url}/v1/documents`, { method: "POST", headers: bearer(uploader.token), body: uploadForm("second") });
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toMatch(/^\d+$/);
    expect((await errorOf(second)).message).toMatch(/limits\.rate\.uploadsPerToken/);
  });

  it("stops taking tokens from an address after too many wrong ones, even the right one, and does not count requests with no token", async () => {
    for (let i = 0; i < 5; i += 1) expect((await fetch(`${plane.url}/v1/search`, { method: "POST" })).status).toBe(401);
    for (let i = 0; i < 3; i += 1) expect((await search(`rgo_guess-${i}`)).status).toBe(401);
    const blocked = await search(uploader.token);
    expect(blocked.status).toBe(429);
    expect(Number(blocked.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
    expect((await errorOf(blocked)).message).toMatch(/wrong API token.*limits\.rate\.authFailuresPerAddress/);
  });
});

describe("per-address limits behind a proxy (http.trustProxy)", () => {
  const reader = newToken();
  const planes: ControlPlane[] = [];
  const start = async (http: Record<string, unknown>) => {
    const plane = await startControlPlane({ http: { port: 0, ...http }, auth: { tokens: { app: { hash: reader.hash, roles: ["reader"] } } }, limits: { rate: { windowSeconds: 60, searchPerToken: 100, searchPerAddress: 2 } } });
    planes.push(plane);
    return plane;
  };
  const search = (plane: ControlPlane, forwardedFor: string) =>
    fetch(`${plane.url}/v1/search`, { method: "POST", headers: { ...json, ...bearer(reader.token), "x-forwarded-for": forwardedFor }, body: JSON.stringify({ query: "dock" }) });

  afterAll(async () => {
    for (const plane of planes) await plane.stop();
  });

  it("counts each client the trusted proxy names in X-Forwarded-For apart", async () => {
    const plane = await start({ trustProxy: "loopback" });
    expect((await search(plane, "203.0.113.1")).status).toBe(200);
    expect((await search(plane, "203.0.113.1")).status).toBe(200);
    expect((await search(plane, "203.0.113.1")).status).toBe(429);
    expect((await search(plane, "203.0.113.2")).status).toBe(200);
  });

  it("ignores X-Forwarded-For when no proxy is trusted, so a client cannot pick a new address per request", async () => {
    const plane = await start({});
    expect((await search(plane, "198.51.100.1")).status).toBe(200);
    expect((await search(plane, "198.51.100.2")).status).toBe(200);
    expect((await search(plane, "198.51.100.3")).status).toBe(429);
  });

  it("refuses trustProxy true, which would let any client name its own address", () => {
    expect(() => loadConfig({ env: {}, overrides: { http: { trustProxy: true } } })).toThrow(/http\.trustProxy/);
  });
});

describe("connections and slow uploads", () => {
  let plane: ControlPlane;

  beforeAll(async () => {
    plane = await startControlPlane({ http: { port: 0, maxConnections: 2, minUploadBytesPerSecond: 100_000, uploadRateWindowMs: 100 } });
  });

  afterAll(async () => {
    await plane?.stop();
  });

  it("closes a connection beyond http.maxConnections at once, and serves those it holds", async () => {
    const accepted = new Promise<void>((resolve) => {
      let count = 0;
      plane.server.server.on("connection", () => (count += 1) === 2 && resolve());
    });
    const dropped = new Promise<void>((resolve) => plane.server.server.once("drop", () => resolve()));
    const held = [openSocket(plane.url), openSocket(plane.url)];
    await accepted;
    const third = openSocket(plane.url);
    await dropped;
    expect(await third.received).toBe("");

    const [first] = held;
    first!.socket.end(`GET /healthz HTTP/1.1\r\nHost: ${new URL(plane.url).host}\r\nConnection: close\r\n\r\n`);
    expect(await first!.received).toMatch(/^HTTP\/1\.1 200 /);
    held[1]!.socket.destroy();
    await held[1]!.received;
  });

  it("cuts off an upload slower than http.minUploadBytesPerSecond with 408 and removes its temp file", async () => {
    const boundary = "----ragops-slow";
    const head = [`--${boundary}`, 'Content-Disposition: form-data; name="file"; filename="slow.md"', "Content-Type: text/markdown", "", "# Slow\n\nThe first bytes of a long"].join("\r\n");
    const { port } = new URL(plane.url);
    const { socket, received } = openSocket(plane.url);
    socket.write(
      [`POST /v1/documents HTTP/1.1`, `Host: 127.0.0.1:${port}`, `Content-Type: multipart/form-data; boundary=${boundary}`, "Content-Length: 1000000", "", head].join("\r\n"),
    );
    // Nothing more is sent: the server must answer and close on its own.
    const answer = await received;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(answer).toMatch(/"code":"request_timeout"/);
    expect(answer).toMatch(/http\.minUploadBytesPerSecond/);

    const tmp = join(plane.runtime.config.dataDir, "objects", ".tmp");
    expect(existsSync(tmp) ? readdirSync(tmp) : []).toEqual([]);
    const stored: string[] = [];
    for await (const meta of plane.runtime.store.list("uploads/")) stored.push(meta.key);
    expect(stored).toEqual([]);
  });
});

describe("caps on index versions and queued builds", () => {
  let plane: ControlPlane;
  let lifecycle: Queue;

  beforeAll(async () => {
    plane = await startControlPlane({ limits: { maxVersions: 3, maxQueuedBuilds: 1 } });
    lifecycle = createLifecycleQueue(plane.runtime.config);
  });

  afterAll(async () => {
    await lifecycle?.obliterate({ force: true }).catch(() => undefined);
    await lifecycle?.close();
    await plane?.stop();
  });

  const create = (version: string) => fetch(`${plane.url}/v1/indexes`, { method: "POST", headers: json, body: JSON.stringify({ version }) });

  it("refuses a build beyond limits.maxQueuedBuilds with 429, and a version beyond limits.maxVersions with 409, naming the setting", async () => {
    expect((await create("v2")).status).toBe(202);
    const queued = await create("v3");
    expect(queued.status).toBe(429);
    expect(queued.headers.get("retry-after")).toBe("60");
    const queuedError = await errorOf(queued);
    expect(queuedError.message).toMatch(/1 index builds are waiting.*raise limits\.maxQueuedBuilds \(RAGOPS_MAX_QUEUED_BUILDS\)/);

    // As if a worker took the build: nothing waits any more.
    await lifecycle.drain();
    expect((await create("v3")).status).toBe(202);
    await lifecycle.drain();
    const versions = await create("v4");
    expect(versions.status).toBe(409);
    expect((await errorOf(versions)).message).toMatch(/3 index versions are not retired \(v1, v2, v3\).*retire one.*raise limits\.maxVersions \(RAGOPS_MAX_VERSIONS\)/);
    const listed = (await (await fetch(`${plane.url}/v1/indexes`)).json()) as { versions: Array<{ version: string }> };
    expect(listed.versions.map((v) => v.version).sort()).toEqual(["v1", "v2", "v3"]);
  });
});

describe("caps under concurrent creates", () => {
  let plane: ControlPlane;
  let lifecycle: Queue;

  beforeAll(async () => {
    plane = await startControlPlane({ limits: { maxVersions: 3, maxQueuedBuilds: 100 } });
    lifecycle = createLifecycleQueue(plane.runtime.config);
  });

  afterAll(async () => {
    await lifecycle?.obliterate({ force: true }).catch(() => undefined);
    await lifecycle?.close();
    await plane?.stop();
  });

  it("admits exactly as many versions as limits.maxVersions leaves room for, however many creates race", async () => {
    const names = ["v2", "v3", "v4", "v5", "v6", "v7"];
    const statuses = await Promise.all(names.map((version) => fetch(`${plane.url}/v1/indexes`, { method: "POST", headers: json, body: JSON.stringify({ version }) }).then((r) => r.status)));
    expect(statuses.filter((s) => s === 202)).toHaveLength(2);
    expect(statuses.filter((s) => s === 409)).toHaveLength(4);
    const listed = (await (await fetch(`${plane.url}/v1/indexes`)).json()) as { versions: Array<{ version: string }> };
    expect(listed.versions).toHaveLength(3);
  });
});
