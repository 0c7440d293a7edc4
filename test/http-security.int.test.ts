import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { readAlias } from "../indexer/lifecycle/alias.js";
import { listAudit } from "../indexer/lifecycle/audit.js";
import { listVersions } from "../indexer/lifecycle/versions.js";
import { rawRequest, type RawRequest, type RawResponse } from "./support/raw-http.js";
import { startStack, type Stack } from "./support/stack.js";

const TOKEN = "alice-token-0123456789";
const JSON_TYPE = { "content-type": "application/json" };

function multipart(id: string): { headers: Record<string, string>; body: string } {
  const boundary = "----ragops-test-boundary";
  const body = [
    `--${boundary}`,
    'Content-Disposition: form-data; name="id"',
    "",
    id,
    `--${boundary}`,
    `Content-Disposition: form-data; name="file"; filename="${id}.md"`,
    "Content-Type: text/markdown",
    "",
    "# Planted\n\nA document no anonymous caller may store.",
    `--${boundary}--`,
    "",
  ].join("\r\n");
  return { headers: { "content-type": `multipart/form-data; boundary=${boundary}` }, body };
}

const call = (stack: Stack, req: RawRequest): Promise<RawResponse> => rawRequest(stack.url, req);

async function waitForJob(stack: Stack, jobId: string, headers: Record<string, string>): Promise<string> {
  for (;;) {
    const job = await call(stack, { method: "GET", path: `/v1/jobs/${jobId}`, headers });
    const state = String(job.json?.state);
    if (state === "completed" || state === "failed") return state;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Builds an (empty) index version beside v1, so that a swap has somewhere to go. */
async function buildVersion(stack: Stack, version: string, headers: Record<string, string>): Promise<void> {
  const created = await call(stack, { method: "POST", path: "/v1/indexes", headers: { ...JSON_TYPE, ...headers }, body: JSON.stringify({ version }) });
  expect(created.status, created.text).toBe(202);
  expect(await waitForJob(stack, String(created.json?.buildJobId), headers)).toBe("completed");
}

/** What an unauthorised or forged request must never change: the alias, the versions, the documents and the audit log. */
async function controlPlaneState(stack: Stack): Promise<unknown> {
  const { store } = stack.runtime;
  const documents: string[] = [];
  for await (const meta of store.list("documents/")) documents.push(meta.key);
  return {
    alias: (await readAlias(store)).alias,
    versions: (await listVersions(store)).map((v) => [v.version, v.state]),
    documents,
    audit: (await listAudit(store, { limit: 1000 })).entries,
  };
}

/** Existing routes, each with a body that would change something if it were accepted. */
const ROUTES: Array<{ method: string; path: string; headers?: Record<string, string>; body?: string }> = [
  { method: "GET", path: "/v1/aliases/live" },
  { method: "POST", path: "/v1/aliases/live/swap", headers: JSON_TYPE, body: JSON.stringify({ to: "v2", expectedVersion: "v1", force: true, reason: "test" }) },
  { method: "POST", path: "/v1/aliases/live/rollback", headers: JSON_TYPE, body: "{}" },
  { method: "POST", path: "/v1/indexes", headers: JSON_TYPE, body: JSON.stringify({ version: "v9" }) },
  { method: "POST", path: "/v1/indexes/v2/retire", headers: JSON_TYPE, body: "{}" },
  { method: "GET", path: "/v1/indexes" },
  { method: "GET", path: "/v1/indexes/v1" },
  { method: "GET", path: "/v1/audit" },
  { method: "POST", path: "/v1/search", headers: JSON_TYPE, body: JSON.stringify({ query: "dock" }) },
  { method: "GET", path: "/v1/documents/doc" },
  { method: "GET", path: "/v1/documents/doc/chunks" },
  { method: "DELETE", path: "/v1/documents/doc" },
  { method: "GET", path: "/v1/jobs/any" },
  { method: "POST", path: "/v1/documents", ...multipart("planted") },
  { method: "PUT", path: "/v1/documents/planted", ...multipart("planted") },
];

/** One way of writing a path that a lenient router, a proxy or a URL normaliser might take for the route. */
const spellingOf = fc.record({
  flips: fc.array(fc.boolean(), { minLength: 48, maxLength: 48 }),
  encodes: fc.array(fc.boolean(), { minLength: 48, maxLength: 48 }),
  upperHex: fc.boolean(),
  prefix: fc.constantFrom("", "/", "/.", "/v1/..", "/%2e"),
  dotAt: fc.nat(6),
  dot: fc.constantFrom("", "/.", "/x/..", "/", "/%2E"),
  suffix: fc.constantFrom("", "/", "/.", "//", "?x=1", ";", "%2F", "%20", "/?a", "#"),
  slashEncoded: fc.boolean(),
  absolute: fc.boolean(),
});

type Spelling = typeof spellingOf extends fc.Arbitrary<infer T> ? T : never;

function spell(path: string, s: Spelling, origin: string): string {
  const segments = path.split("/");
  const at = 1 + (s.dotAt % (segments.length - 1));
  let spelled = [...segments.slice(0, at), ...(s.dot ? [s.dot.slice(1)] : []), ...segments.slice(at)].join("/");
  spelled = [...spelled]
    .map((ch, i) => {
      if (ch === "/" || ch === ".") return ch;
      const cased = s.flips[i % 48] ? (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase()) : ch;
      if (!s.encodes[i % 48]) return cased;
      const hex = ch.charCodeAt(0).toString(16).padStart(2, "0");
      return `%${s.upperHex ? hex.toUpperCase() : hex}`;
    })
    .join("");
  if (s.slashEncoded) spelled = spelled.replace(/(?<=.)\//, "%2F");
  spelled = `${s.prefix}${spelled}${s.suffix}`;
  return s.absolute ? `${origin}${spelled}` : spelled;
}

describe("with API tokens, every request but the probes needs one", () => {
  let stack: Stack;
  const bearer = { authorization: `Bearer ${TOKEN}` };

  beforeAll(async () => {
    stack = await startStack({ auth: { tokens: { alice: TOKEN } } });
    await buildVersion(stack, "v2", bearer);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("refuses every spelling of every route without a token (case, percent-encoding, slashes, dot segments), and nothing changes", async () => {
    const before = await controlPlaneState(stack);
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), spellingOf, async (route, spelling) => {
        const path = spell(route.path, spelling, stack.url);
        const response = await call(stack, { ...route, path });
        expect(response.status, `${route.method} ${path}: ${response.text}`).toBe(401);
      }),
      { numRuns: 300 },
    );
    expect(await controlPlaneState(stack)).toEqual(before);
  });

  it("answers the probes without a token, and only at their exact paths", async () => {
    expect((await call(stack, { method: "GET", path: "/healthz" })).status).toBe(200);
    expect((await call(stack, { method: "GET", path: "/readyz" })).status).toBe(200);
    for (const path of ["/HEALTHZ", "/healthz/", "/Readyz", "//readyz", "/v1/../healthz/"]) {
      expect((await call(stack, { method: "GET", path })).status, path).toBe(401);
    }
  });

  it("answers a caller with the token whatever Host or Origin it sends: a browser cannot attach a bearer token by itself", async () => {
    const response = await call(stack, { method: "GET", path: "/v1/aliases/live", headers: { ...bearer, host: "evil.example", origin: "http://evil.example" } });
    expect(response.status, response.text).toBe(200);
  });

  it("swaps with the token at the route's one spelling", async () => {
    const [route] = ROUTES.filter((r) => r.path === "/v1/aliases/live/swap");
    const swapped = await call(stack, { ...(route as RawRequest), headers: { ...JSON_TYPE, ...bearer } });
    expect(swapped.status, swapped.text).toBe(200);
    expect((await readAlias(stack.runtime.store)).alias).toMatchObject({ live: "v2", previous: "v1", updatedBy: "alice" });
  });
});

describe("without API tokens", () => {
  let stack: Stack;
  let port: number;
  const ops = { "x-ragops-actor": "ops" };

  beforeAll(async () => {
    stack = await startStack({ http: { port: 0, allowedHosts: ["rag.internal"] } });
    port = Number(new URL(stack.url).port);
    await buildVersion(stack, "v2", ops);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  const swapBody = async (): Promise<string> => {
    const { alias } = await readAlias(stack.runtime.store);
    return JSON.stringify({ to: alias.live === "v1" ? "v2" : "v1", expectedVersion: alias.live, force: true, reason: "test" });
  };

  describe("/readyz", () => {
    it("names the version the alias makes live, after a swap too", async () => {
      const before = await call(stack, { method: "GET", path: "/readyz" });
      expect(before.json).toMatchObject({ status: "ready", live: "v1", checks: { redis: "ok", index: expect.stringMatching(/in v1\)$/) } });
      const swapped = await call(stack, { method: "POST", path: "/v1/aliases/live/swap", headers: { ...JSON_TYPE, ...ops }, body: JSON.stringify({ to: "v2", expectedVersion: "v1", force: true, reason: "test" }) });
      expect(swapped.status, swapped.text).toBe(200);
      const after = await call(stack, { method: "GET", path: "/readyz" });
      expect(after.status).toBe(200);
      expect(after.json).toMatchObject({ status: "ready", live: "v2", checks: { redis: "ok", index: expect.stringMatching(/in v2\)$/) } });
    });
  });

  describe("x-ragops-actor", () => {
    it("refuses any name in the system: namespace, however it is cased, and the audit log never records one", async () => {
      const before = await controlPlaneState(stack);
      const system = fc.array(fc.boolean(), { minLength: 6, maxLength: 6 }).map((upper) => [..."system"].map((ch, i) => (upper[i] ? ch.toUpperCase() : ch)).join(""));
      await fc.assert(
        fc.asyncProperty(system, fc.stringMatching(/^[\w.@:-]{0,40}$/), async (namespace, name) => {
          const actor = `${namespace}:${name}`;
          const response = await call(stack, { method: "POST", path: "/v1/aliases/live/swap", headers: { ...JSON_TYPE, "x-ragops-actor": actor }, body: await swapBody() });
          expect(response.status, `${actor}: ${response.text}`).toBe(400);
          expect(response.json?.error?.message).toMatch(/x-ragops-actor.*"system:" namespace are reserved/);
        }),
        { numRuns: 100 },
      );
      expect(await controlPlaneState(stack)).toEqual(before);
      const { entries } = await listAudit(stack.runtime.store, { limit: 1000 });
      // Only the server's own actions: the first start, and the build of v2.
      expect(entries.filter((e) => /^system:/i.test(e.actor)).map((e) => [e.actor, e.action])).toEqual([
        ["system:bootstrap", "create"],
        ["system:bootstrap", "forced-promotion"],
        ["system:build", "build-end"],
      ]);
    });

    it.each([
      ["empty", ""],
      ["longer than 64 characters", "a".repeat(65)],
      ["with a space", "bob smith"],
      ["with a comma (two headers joined)", "alice,bob"],
      ["not ASCII", "jos\u00e9"],
    ])("refuses a name that is %s with a 400, rather than recording the caller as anonymous", async (_what, actor) => {
      const before = await controlPlaneState(stack);
      const response = await call(stack, { method: "POST", path: "/v1/aliases/live/swap", headers: { ...JSON_TYPE, "x-ragops-actor": actor }, body: await swapBody() });
      expect(response.status, response.text).toBe(400);
      expect(response.json?.error).toMatchObject({ code: "invalid_request", message: expect.stringMatching(/invalid x-ragops-actor.*1-64 letters/) });
      expect(await controlPlaneState(stack)).toEqual(before);
    });

    it("records the name a caller gives itself", async () => {
      const response = await call(stack, { method: "POST", path: "/v1/aliases/live/swap", headers: { ...JSON_TYPE, "x-ragops-actor": "carol@ops" }, body: await swapBody() });
      expect(response.status, response.text).toBe(200);
      const { entries } = await listAudit(stack.runtime.store, { limit: 1000 });
      expect(entries.at(-1)).toMatchObject({ actor: "carol@ops", action: "forced-promotion" });
    });
  });

  describe("Host and Origin", () => {
    it.each(["evil.example:{port}", "evil.example", "localhost.evil.example:{port}", "127.0.0.1.nip.io:{port}", "localhost:{other}", "127.0.0.1:{other}", "[::2]:{port}", "rag.internal.evil.example:{port}"])(
      "refuses a request addressed to Host %j with a 403 that names DNS rebinding and how to allow a name",
      async (template) => {
        const host = template.replace("{port}", String(port)).replace("{other}", String(port === 65535 ? 1 : port + 1));
        const before = await controlPlaneState(stack);
        for (const req of [{ method: "GET", path: "/v1/aliases/live" }, { method: "POST", path: "/v1/aliases/live/swap", headers: JSON_TYPE, body: await swapBody() }, { method: "POST", path: "/v1/documents", ...multipart("rebound") }]) {
          const response = await call(stack, { ...req, headers: { ...req.headers, host } });
          expect(response.status, `${req.method} ${req.path}: ${response.text}`).toBe(403);
          expect(response.json?.error).toMatchObject({ code: "forbidden", message: expect.stringMatching(/DNS rebinding.*http\.allowedHosts.*auth\.tokens/) });
        }
        expect(await controlPlaneState(stack)).toEqual(before);
      },
    );

    it("refuses any other name for this server, on any port", async () => {
      const before = await controlPlaneState(stack);
      await fc.assert(
        fc.asyncProperty(fc.domain(), fc.option(fc.integer({ min: 1, max: 65535 })), async (name, anyPort) => {
          const host = anyPort === null ? name : `${name}:${anyPort}`;
          const response = await call(stack, { method: "POST", path: "/v1/aliases/live/swap", headers: { ...JSON_TYPE, host }, body: await swapBody() });
          expect(response.status, `${host}: ${response.text}`).toBe(403);
        }),
        { numRuns: 100 },
      );
      expect(await controlPlaneState(stack)).toEqual(before);
    });

    it.each(["localhost:{port}", "LocalHost:{port}", "127.0.0.1:{port}", "[::1]:{port}", "rag.internal", "rag.internal:{port}"])("answers a request addressed to Host %j", async (template) => {
      const response = await call(stack, { method: "GET", path: "/v1/aliases/live", headers: { host: template.replace("{port}", String(port)) } });
      expect(response.status, response.text).toBe(200);
    });

    it.each(["http://evil.example", "https://evil.example", "null", "http://localhost:1", "file://"])("refuses a cross-site upload or swap from Origin %j with a 403, and stores nothing", async (origin) => {
      const before = await controlPlaneState(stack);
      for (const req of [{ method: "POST", path: "/v1/documents", ...multipart("cross-site") }, { method: "POST", path: "/v1/aliases/live/swap", headers: JSON_TYPE, body: await swapBody() }]) {
        const response = await call(stack, { ...req, headers: { ...req.headers, origin } });
        expect(response.status, `${req.method} ${req.path}: ${response.text}`).toBe(403);
        expect(response.json?.error).toMatchObject({ code: "forbidden", message: expect.stringMatching(/cross-site request from Origin.*http\.allowedHosts.*auth\.tokens/) });
      }
      expect(await controlPlaneState(stack)).toEqual(before);
    });

    it("answers a request whose Origin is the server's own", async () => {
      const response = await call(stack, { method: "POST", path: "/v1/search", headers: { ...JSON_TYPE, origin: `http://127.0.0.1:${port}` }, body: JSON.stringify({ query: "dock" }) });
      expect(response.status, response.text).toBe(200);
    });

    it("answers fetch from this machine, as the demo and the CLI call it", async () => {
      const response = await fetch(`${stack.url}/v1/search`, { method: "POST", headers: { ...JSON_TYPE, "x-ragops-actor": "demo" }, body: JSON.stringify({ query: "dock" }) });
      expect(response.status).toBe(200);
    });
  });
});
