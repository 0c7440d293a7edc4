import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKENDS } from "./support/backends.js";
import { cliRunner } from "./support/cli.js";
import { putDocument, searchApi, startStack, waitForJob, type Stack } from "./support/stack.js";

const post = async (url: string, path: string, body: unknown, actor = "alice") => {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-ragops-actor": actor }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
};

const DOCS: Record<string, string> = {
  dock: "# Charging dock\n\nMount the CD-10 charging dock against a solid wall with 1.2 metres of clear floor in front of it.\n",
  battery: "# Battery\n\nReplace the BP-48 battery pack when a full charge lasts less than six hours of picking.\n",
  travel: "Travel\n\nHotel stays are reimbursed up to 180 EUR per night in high-cost cities with a receipt.\n",
};

async function buildGreen(stack: Stack, body: Record<string, unknown>): Promise<string> {
  const created = await post(stack.url, "/v1/indexes", body);
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  const job = await waitForJob(stack.url, String(created.body.buildJobId));
  expect(job.state, job.failedReason).toBe("completed");
  return String(created.body.version);
}

describe.each(BACKENDS)("index lifecycle on $name", (backend) => {
  let stack: Stack;
  let stop: () => Promise<void> = async () => undefined;

  beforeAll(async () => {
    ({ stack, stop } = await backend.start());
    for (const [id, text] of Object.entries(DOCS)) await putDocument(stack.url, id, text);
  });

  afterAll(async () => {
    await stop();
  });

  it("starts with the configured version live", async () => {
    const listed = (await (await fetch(`${stack.url}/v1/indexes`)).json()) as { alias: { live: string }; versions: Array<{ version: string; state: string }> };
    expect(listed.alias.live).toBe("v1");
    expect(listed.versions).toEqual([expect.objectContaining({ version: "v1", state: "live" })]);
  });

  it("builds a green version with other chunking and other dimensions beside live, and searches either", async () => {
    const green = await buildGreen(stack, { version: "v2", config: { embedder: { dimensions: 256 }, chunking: { sizeTokens: 300 } } });
    const record = (await (await fetch(`${stack.url}/v1/indexes/${green}`)).json()) as { state: string; counts: { documents: number; datapoints: number } };
    expect(record).toMatchObject({ state: "ready", counts: { documents: 3, datapoints: 3 } });
    // How the version is searched: on LanceDB, rows, the exact snapshot or LanceDB, and its ANN index (none below index.annMinRows).
    if (backend.provider === "lancedb") expect(record).toMatchObject({ index: { provider: "lancedb", rows: 3, ann: { state: "none", minRows: 20_000 }, fullText: { state: "none", minRows: 20_000 } } });
    else expect(record).toMatchObject({ config: { index: { provider: "vertex" } }, vertex: { deployedIndexId: "ragops_v2", deployed: true } });
    const fromGreen = await searchApi(stack.url, { query: "BP-48 battery pack", k: 1, index: "v2" });
    expect(fromGreen.body).toMatchObject({ index: "v2", results: [expect.objectContaining({ documentId: "battery" })] });
    const fromLive = await searchApi(stack.url, { query: "BP-48 battery pack", k: 1 });
    expect(fromLive.body).toMatchObject({ index: "v1", results: [expect.objectContaining({ documentId: "battery" })] });
  });

  it("refuses to swap in a version without an evaluation unless forced, then swaps and rolls back", async () => {
    const refused = await post(stack.url, "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1" });
    expect(refused.status).toBe(409);
    expect(refused.body.error?.message).toMatch(/no passing evaluation.*force: true/);

    const swapped = await post(stack.url, "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1", force: true, reason: "new chunking" });
    expect(swapped).toMatchObject({ status: 200, body: { live: "v2", previous: "v1" } });
    expect((await searchApi(stack.url, { query: "hotel receipt", k: 1 })).body).toMatchObject({ index: "v2" });

    const back = await post(stack.url, "/v1/aliases/live/rollback", { expectedVersion: "v2" });
    expect(back).toMatchObject({ status: 200, body: { live: "v1", previous: "v2" } });
    expect((await searchApi(stack.url, { query: "hotel receipt", k: 1 })).body).toMatchObject({ index: "v1" });
  });

  it("gives one of many racing swaps a 200 and the others a 409 naming the version now live", async () => {
    const results = await Promise.all(Array.from({ length: 8 }, (_, i) => post(stack.url, "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1", force: true, reason: "race" }, `op${i}`)));
    expect(results.filter((r) => r.status === 200)).toHaveLength(1);
    for (const r of results.filter((r) => r.status !== 200)) {
      expect(r.status).toBe(409);
      expect(r.body.error?.message).toMatch(/live is v2|already live/);
    }
    expect((await post(stack.url, "/v1/aliases/live/rollback", {})).status).toBe(200);
  });

  it("keeps every non-retired version following the corpus, including a document added during a build", async () => {
    const created = await post(stack.url, "/v1/indexes", { version: "v3" });
    // This upload races the build: it lands in v3 either through its own job or through the build's catch-up.
    await putDocument(stack.url, "wifi", "# Wi-Fi\n\nThe robots need WPA2-Enterprise and port 8883 open for MQTT to the Flock broker.\n");
    expect((await waitForJob(stack.url, String(created.body.buildJobId))).state).toBe("completed");
    for (const index of ["v1", "v2", "v3"]) {
      const hit = await searchApi(stack.url, { query: "WPA2-Enterprise port 8883 MQTT", k: 1, index });
      expect(hit.body, index).toMatchObject({ index, results: [expect.objectContaining({ documentId: "wifi" })] });
    }
  });

  it("refuses to retire the live or previous version, retires another, and searches of it are refused", async () => {
    expect((await post(stack.url, "/v1/indexes/v1/retire", {})).status).toBe(409);
    expect((await post(stack.url, "/v1/indexes/v2/retire", {})).status).toBe(409);
    const retired = await post(stack.url, "/v1/indexes/v3/retire", { reason: "experiment over" });
    expect(retired).toMatchObject({ status: 200, body: { version: "v3", state: "retired" } });
    expect((await searchApi(stack.url, { query: "dock", index: "v3" })).status).toBe(409);
  });

  it("records who did what in the audit log", async () => {
    const audit = (await (await fetch(`${stack.url}/v1/audit?limit=100`)).json()) as { entries: Array<{ action: string; actor: string; to?: string; version?: string }> };
    const actions = audit.entries.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["create", "build-end", "forced-promotion", "rollback", "retire"]));
    expect(audit.entries.find((e) => e.action === "retire")).toMatchObject({ actor: "alice", version: "v3" });
  });
});

describe("ragops index and ragops audit", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
    await putDocument(stack.url, "dock", DOCS.dock as string);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("builds, lists, swaps, rolls back and shows the audit trail", async () => {
    const env = { ...process.env, RAGOPS_DATA_DIR: stack.config.dataDir, REDIS_URL: stack.config.redis.url, RAGOPS_REDIS_PREFIX: stack.config.redis.prefix };
    const cli = cliRunner(env);
    const created = await cli("index", "create", "--chunk-size", "300", "--dimensions", "256", "--fusion", "rrf", "--wait");
    expect(created.status, created.err).toBe(0);
    expect(created.out).toMatch(/v2 is ready: 1 documents/);
    expect((await cli("index", "list")).out).toMatch(/v1\s+│ live\s+│ hybrid \(relative-score\)[\s\S]*v2\s+│ ready\s+│ hybrid \(rrf\)\s+│ 300\s+│ 256/);
    const refused = await cli("index", "swap", "v2", "--expected", "v1");
    expect(refused.status).toBe(1);
    expect(refused.err).toMatch(/no passing evaluation/);
    expect((await cli("index", "swap", "v2", "--expected", "v1", "--force", "--reason", "try smaller chunks")).out).toContain("live: v2, previous: v1");
    expect((await cli("index", "rollback")).out).toContain("live: v1, previous: v2");
    expect((await cli("index", "retire", "v2")).status).toBe(1); // previous is kept warm
    const audit = (await cli("audit")).out;
    expect(audit).toMatch(/forced-promotion[\s\S]*try smaller chunks/);
    expect(audit).toMatch(/rollback/);
  });

  it("creates a version with the settings of a file given to --settings, while the global --config stays ragops' own config", async () => {
    const env = { ...process.env, RAGOPS_DATA_DIR: stack.config.dataDir, REDIS_URL: stack.config.redis.url, RAGOPS_REDIS_PREFIX: stack.config.redis.prefix };
    const cli = cliRunner(env);
    const settings = join(stack.config.dataDir, "v-settings.json");
    writeFileSync(settings, JSON.stringify({ chunking: { sizeTokens: 256 }, embedder: { dimensions: 128 } }));
    const created = await cli("index", "create", "--version", "fromfile", "--settings", settings, "--wait");
    expect(created.status, created.err).toBe(0);
    expect((await cli("index", "list")).out).toMatch(/fromfile\s+│ ready\s+│ hybrid \(relative-score\)\s+│ 256\s+│ 128/);
  });
});

describe("a build that fails", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
    await putDocument(stack.url, "dock", DOCS.dock as string);
    await putDocument(stack.url, "battery", DOCS.battery as string);
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("leaves its version failed with the reason and every other version as it was", async () => {
    // The green version chunks differently, so it must re-read the bytes; one document's bytes are gone.
    const record = (await (await fetch(`${stack.url}/v1/documents/battery`)).json()) as { rawKey: string };
    await stack.runtime.store.delete(record.rawKey);
    const created = await post(stack.url, "/v1/indexes", { version: "v2", config: { chunking: { sizeTokens: 300 } } });
    const job = await waitForJob(stack.url, String(created.body.buildJobId));
    expect(job.state).toBe("failed");
    const v2 = (await (await fetch(`${stack.url}/v1/indexes/v2`)).json()) as { state: string; error: string };
    expect(v2).toMatchObject({ state: "failed", error: expect.stringMatching(/not found/) });
    const v1 = (await (await fetch(`${stack.url}/v1/indexes/v1`)).json()) as { state: string; counts: { datapoints: number } };
    expect(v1).toMatchObject({ state: "live", counts: { datapoints: 2 } });
    expect((await searchApi(stack.url, { query: "BP-48 battery pack", k: 1 })).body).toMatchObject({ index: "v1", results: [expect.objectContaining({ documentId: "battery" })] });
    const audit = (await (await fetch(`${stack.url}/v1/audit`)).json()) as { entries: Array<{ action: string; version?: string; reason?: string }> };
    expect(audit.entries.find((e) => e.action === "build-end" && e.version === "v2")?.reason).toMatch(/^failed: /);
    // A failed version is partial: not even a forced swap makes it live.
    const forced = await post(stack.url, "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1", force: true });
    expect(forced.status).toBe(409);
    expect(forced.body.error?.message).toMatch(/build failed .* retire it and build a new version/);
  });
});

describe("API tokens, pinned filters and embedder identity", () => {
  const token = "alice-token-0123456789";
  let stack: Stack;
  const authed = (path: string, body?: unknown, bearer: string | null = token) =>
    fetch(`${stack.url}${path}`, {
      method: body === undefined ? "GET" : "POST",
      headers: { "content-type": "application/json", ...(bearer ? { authorization: `Bearer ${bearer}` } : {}) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });

  beforeAll(async () => {
    stack = await startStack({ auth: { tokens: { alice: token } } });
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("refuses requests without a valid token and names the token in the audit log", async () => {
    const missing = await authed("/v1/indexes", undefined, null);
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as { error: { message: string } }).error.message).toMatch(/Authorization: Bearer/);
    expect((await authed("/v1/indexes", undefined, "wrong-token-0123456789")).status).toBe(401);
    expect((await fetch(`${stack.url}/healthz`)).status).toBe(200);

    for (const [id, text, tags] of [["dock", DOCS.dock, "hardware"], ["travel", DOCS.travel, "policy"]] as const) {
      const form = new FormData();
      form.append("tags", tags);
      form.append("file", new Blob([text as string]), `${id}.md`);
      const put = await fetch(`${stack.url}/v1/documents/${id}`, { method: "PUT", body: form, headers: { authorization: `Bearer ${token}` } });
      const { jobId } = (await put.json()) as { jobId: string };
      for (;;) {
        const job = (await (await authed(`/v1/jobs/${jobId}`)).json()) as { state: string };
        if (job.state === "completed") break;
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    }
    const created = (await (await authed("/v1/indexes", { version: "hw", config: { filter: { tags: ["hardware"] } } })).json()) as { buildJobId: string; embedder: Record<string, unknown> };
    expect(created.embedder).toEqual({ provider: "offline", model: "hashing-unigram-bigram", version: "1", dimensions: 384 });
    for (;;) {
      const job = (await (await authed(`/v1/jobs/${created.buildJobId}`)).json()) as { state: string };
      if (job.state === "completed") break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const audit = (await (await authed("/v1/audit")).json()) as { entries: Array<{ actor: string; action: string; version?: string }> };
    expect(audit.entries.find((e) => e.action === "create" && e.version === "hw")?.actor).toBe("alice");
  });

  it("applies a version's pinned filter to every search of it, narrowed by the request's", async () => {
    const search = async (body: Record<string, unknown>) => (await (await authed("/v1/search", { k: 10, ...body })).json()) as { results: Array<{ documentId: string }> };
    expect((await search({ query: "hotel receipt dock wall", index: "hw" })).results.map((r) => r.documentId)).toEqual(["dock"]);
    expect((await search({ query: "hotel receipt dock wall", index: "hw", filter: { tags: ["policy"] } })).results).toEqual([]);
    expect((await search({ query: "hotel receipt dock wall" })).results.map((r) => r.documentId).sort()).toEqual(["dock", "travel"]);
  });
});
