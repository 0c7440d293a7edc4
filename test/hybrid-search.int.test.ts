import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { reciprocalRankFusion, relativeScoreFusion } from "../indexer/indexes/fusion.js";
import { versionRetrieval, getVersion } from "../indexer/lifecycle/versions.js";
import { analyze } from "../indexer/sparse/analyze.js";
import type { SearchResponse } from "../src/search.js";
import { indexContents, putDocument, startStack, waitForJob, type Stack } from "./support/stack.js";

const DOCUMENTS: Record<string, string> = {
  dock: "# Charging Dock\n\n## Placement\n\nMount the CD-10 charging dock against a solid wall with 1.5 m of clear floor in front of it. The dock needs a dedicated 16 A breaker.\n",
  battery: "# Battery Care\n\nThe BP-48 battery pack weighs 17.5 kg. Replacing a battery pack takes two people and about fifteen minutes; charge the battery before storage.\n",
  errors: "# Error Codes\n\nE402: the wheel encoder signal is missing. Reseat the encoder connector on the drive motor.\n\nE501: the robot lost its connection to the fleet manager.\n",
  travel: "# Travel Policy\n\nHotel stays are reimbursed up to 180 EUR per night; keep every receipt. Trains beat flights under four hours.\n",
  wifi: "# Wi-Fi Requirements\n\nRobots roam between access points on 5 GHz. The fleet manager needs a stable connection to every robot on the floor.\n",
};

async function search(stack: Stack, body: Record<string, unknown>): Promise<{ status: number; body: SearchResponse & { error?: { message: string } } }> {
  const response = await fetch(`${stack.url}/v1/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as SearchResponse & { error?: { message: string } } };
}

/** BM25 of a query against every indexed chunk, from the textbook formula over the chunks' texts and the version's pinned parameters. */
function directBm25(query: string, texts: Map<string, string>, params: { k1: number; b: number; avgdl: number }): Map<string, number> {
  const docs = new Map([...texts].map(([id, text]) => [id, analyze(text)]));
  const scores = new Map<string, number>();
  for (const [id, words] of docs) {
    let score = 0;
    for (const term of analyze(query)) {
      const df = [...docs.values()].filter((d) => d.includes(term)).length;
      const tf = words.filter((w) => w === term).length;
      if (df === 0 || tf === 0) continue;
      score += (Math.log(1 + (docs.size - df + 0.5) / (df + 0.5)) * tf * (params.k1 + 1)) / (tf + params.k1 * (1 - params.b + (params.b * words.length) / params.avgdl));
    }
    if (score > 0) scores.set(id, score);
  }
  return scores;
}

describe("hybrid retrieval through POST /v1/search", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
    for (const [id, text] of Object.entries(DOCUMENTS)) expect((await putDocument(stack.url, id, text)).state).toBe("completed");
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("answers in the version's own mode, hybrid for a version created with the defaults, and says so", async () => {
    const { status, body } = await search(stack, { query: "replace the battery pack" });
    expect(status).toBe(200);
    expect(body).toMatchObject({ index: "v1", mode: "hybrid" });
    expect(body.results[0]?.documentId).toBe("battery");
    expect(versionRetrieval(await getVersion(stack.runtime.store, "v1"))).toMatchObject({ mode: "hybrid", bm25: { k1: 1.2, b: 0.75, avgdl: 102 } });
  });

  it("sends the answer as UTF-8 JSON framed by its length in bytes, with the request id echoed", async () => {
    const response = await fetch(`${stack.url}/v1/search`, { method: "POST", headers: { "content-type": "application/json", "x-request-id": "trace-1" }, body: JSON.stringify({ query: "hotel receipt — 180 € per night" }) });
    const bytes = Buffer.from(await response.arrayBuffer());
    expect(response.status).toBe(200);
    expect(response.headers.get("content-type")).toBe("application/json; charset=utf-8");
    expect(response.headers.get("content-length")).toBe(String(bytes.length));
    expect(response.headers.get("x-request-id")).toBe("trace-1");
    const body = JSON.parse(bytes.toString("utf8")) as SearchResponse;
    expect(body.results[0]?.documentId).toBe("travel");
  });

  it("scores text mode by BM25 over chunk text and heading path, with IDF from what the index holds now", async () => {
    const texts = await indexContents(stack);
    const { bm25 } = versionRetrieval(await getVersion(stack.runtime.store, "v1"));
    for (const query of ["encoder connector E402", "fleet manager connection robot", "Placement of the charging dock", "hotel receipt"]) {
      const { body } = await search(stack, { query, k: 10, mode: "text" });
      expect(body.mode).toBe("text");
      const want = directBm25(query, texts, bm25);
      expect(body.results.map((r) => r.chunkId).sort()).toEqual([...want.keys()].sort());
      for (const r of body.results) expect(r.score).toBeCloseTo(want.get(r.chunkId) as number, 5);
      for (let i = 1; i < body.results.length; i++) expect(body.results[i]!.score).toBeLessThanOrEqual(body.results[i - 1]!.score);
    }
    // "placement" is only in a heading: the heading path is text of the chunk.
    expect((await search(stack, { query: "placement", mode: "text" })).body.results.map((r) => r.documentId)).toEqual(["dock"]);
  });

  it("marks the query's terms each text-mode result holds, and only in text mode", async () => {
    const { body } = await search(stack, { query: "Which breaker does the CD-10 dock need?", k: 1, mode: "text" });
    // "which", "does" and "need" are not in the chunk ("needs" is: no stemming); "the" is a stop word.
    expect(body.results[0]).toMatchObject({ documentId: "dock", highlights: ["breaker", "cd", "10", "dock"] });
    for (const mode of ["dense", "hybrid"]) expect((await search(stack, { query: "dock breaker", k: 1, mode })).body.results[0]?.highlights).toBeUndefined();
  });

  it("finds nothing in text mode for words no chunk holds, where dense still ranks every chunk", async () => {
    expect((await search(stack, { query: "zebra xylophone", mode: "text" })).body.results).toEqual([]);
    expect((await search(stack, { query: "zebra xylophone", mode: "dense", k: 3 })).body.results).toHaveLength(3);
  });

  it("fuses in hybrid mode the dense and the text rankings by the version's fusion (relative score by default), or by the one a request asks for", async () => {
    const pinned = versionRetrieval(await getVersion(stack.runtime.store, "v1"));
    expect(pinned.fusion).toBe("relative-score");
    for (const query of ["robot connection to the fleet manager", "battery charge storage", "wall"]) {
      const ranking = async (mode: string) => (await search(stack, { query, k: 100, mode })).body.results.map((r) => ({ id: r.chunkId, score: r.score }));
      const [dense, text] = [await ranking("dense"), await ranking("text")];
      const own = await search(stack, { query, k: 3, mode: "hybrid" });
      expect(own.body.fusion).toBe("relative-score");
      expect(own.body.results.map((r) => ({ id: r.chunkId, score: r.score }))).toEqual(relativeScoreFusion(dense, text, pinned.rrf, 3).map((n) => ({ id: n.id, score: expect.closeTo(n.score, 4) })));
      const ranks = await search(stack, { query, k: 3, mode: "hybrid", fusion: "rrf" });
      expect(ranks.body.fusion).toBe("rrf");
      expect(ranks.body.results.map((r) => r.chunkId)).toEqual(reciprocalRankFusion(dense, text, pinned.rrf, 3).map((n) => n.id));
    }
    expect((await search(stack, { query: "wall", mode: "text" })).body.fusion).toBeUndefined();
    const refused = await search(stack, { query: "wall", fusion: "borda" });
    expect(refused.status).toBe(400);
    expect(refused.body.error?.message).toMatch(/fusion/);
  });

  it("applies the request's filter in text and hybrid mode", async () => {
    for (const mode of ["text", "hybrid"]) {
      const { body } = await search(stack, { query: "robot connection fleet manager", k: 10, mode, filter: { documentId: "wifi" } });
      expect(body.results.length).toBeGreaterThan(0);
      expect(body.results.every((r) => r.documentId === "wifi")).toBe(true);
    }
  });

  it("writes no sparse vectors into a dense version, which answers dense and refuses text and hybrid with a 400 naming the problem", async () => {
    const created = await fetch(`${stack.url}/v1/indexes`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ version: "v2", config: { retrieval: { mode: "dense" } } }) });
    expect(created.status).toBe(202);
    const job = await waitForJob(stack.url, String(((await created.json()) as { buildJobId: string }).buildJobId));
    expect(job.state).toBe("completed");
    const v2 = await stack.runtime.catalog.open("v2");
    expect(await v2.index.count()).toBeGreaterThan(0);
    expect((await v2.index.termStats([])).datapoints).toBe(0);
    const v1 = await stack.runtime.catalog.open("v1");
    expect((await v1.index.termStats([])).datapoints).toBe(await v1.index.count());

    const dense = await search(stack, { query: "battery pack", index: "v2" });
    expect(dense.body).toMatchObject({ index: "v2", mode: "dense" });
    expect(dense.body.results[0]?.documentId).toBe("battery");
    for (const mode of ["text", "hybrid"]) {
      const refused = await search(stack, { query: "battery pack", index: "v2", mode });
      expect(refused.status).toBe(400);
      expect(refused.body.error?.message).toMatch(new RegExp(`index version v2 retrieves dense only.*cannot answer in ${mode} mode`));
    }
    expect((await search(stack, { query: "battery", mode: "keywords" })).status).toBe(400);
  });
});
