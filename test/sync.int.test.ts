import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ensureRedis, type LocalRedis } from "../src/dev/local-redis.js";
import { createChunkStore } from "../indexer/sync/chunk-store.js";
import { profileKey, registryPrefix } from "../indexer/sync/profile.js";
import { deleteDocument, indexContents, putDocument, searchApi, startStack, type Stack } from "./support/stack.js";

/** Deterministic filler prose: distinct words per seed, so unrelated paragraphs share no shingles. */
function prose(seed: number, words = 120): string {
  const vocabulary = "amber basalt cobalt delta ember fjord granite harbor iris juniper kestrel lagoon meadow nickel orchid pebble quartz raven sierra tundra umber violet willow xenon yarrow zephyr".split(" ");
  let state = seed * 2654435761;
  const out: string[] = [];
  for (let i = 0; i < words; i += 1) {
    state = (Math.imul(state ^ (state >>> 13), 0x5bd1e995) + 0x6b43a9b5) >>> 0;
    out.push(`${vocabulary[state % vocabulary.length]}${(state >>> 8) % 97}`);
  }
  return `${out.join(" ")}.`;
}

describe("incremental sync", () => {
  let stack: Stack;
  let redis: LocalRedis;
  let dir: string;

  beforeAll(async () => {
    // A Redis of its own: one test counts commands with MONITOR, which on a Redis other test files share sees theirs too.
    dir = mkdtempSync(join(tmpdir(), "ragops-sync-redis-"));
    redis = await ensureRedis("redis://127.0.0.1:1", { dir, preferUrlPort: false });
    stack = await startStack({ redis: { url: redis.url, prefix: "sync" } });
  });

  afterAll(async () => {
    await stack?.stop();
    await redis?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it("costs no embedding and no index write to upload the same bytes again", async () => {
    const text = `# Same\n\n${prose(1)}\n`;
    const first = await putDocument(stack.url, "same", text);
    expect(first.result).toMatchObject({ outcome: "indexed", embedded: 1, indexWrites: 1 });
    const again = await putDocument(stack.url, "same", text);
    expect(again.result).toMatchObject({ outcome: "unchanged", embedded: 0, indexWrites: 0, metadataWrites: 0, indexRemovals: 0 });
  });

  it("embeds only the section that changed", async () => {
    const sections = [1, 2, 3, 4].map((i) => `## Part ${i}\n\n${prose(100 + i)}`);
    const first = await putDocument(stack.url, "parts", `# Parts\n\n${sections.join("\n\n")}\n`);
    expect(first.result).toMatchObject({ chunks: 4, embedded: 4 });
    sections[2] = `## Part 3\n\n${prose(999)}`;
    const second = await putDocument(stack.url, "parts", `# Parts\n\n${sections.join("\n\n")}\n`);
    expect(second.result).toMatchObject({ chunks: 4, unchanged: 3, added: 1, removed: 1, embedded: 1, indexWrites: 1, indexRemovals: 1 });
  });

  it("keeps a chunk shared by two documents once, and keeps it when one of them is deleted", async () => {
    const shared = `# Shared\n\n${prose(7)}\n`;
    await putDocument(stack.url, "alpha", shared);
    const second = await putDocument(stack.url, "beta", shared);
    expect(second.result).toMatchObject({ embedded: 0, indexWrites: 0, metadataWrites: 1 });
    const [hit] = (await searchApi(stack.url, { query: prose(7), k: 1, filter: { documentId: "beta" } })).body.results as unknown as Array<{ documentIds: string[] }>;
    expect(hit?.documentIds).toEqual(["alpha", "beta"]);

    const removed = await deleteDocument(stack.url, "alpha");
    expect(removed.result).toMatchObject({ outcome: "deleted", indexRemovals: 0, metadataWrites: 1 });
    const after = (await searchApi(stack.url, { query: prose(7), k: 1 })).body.results as unknown as Array<{ documentId: string; documentIds: string[] }>;
    expect(after[0]).toMatchObject({ documentId: "beta", documentIds: ["beta"] });
  });

  it("indexes a near-duplicate once, keeps its provenance, and promotes it when the original goes", async () => {
    const original = prose(11, 150);
    const nearCopy = original.replace(/^(\S+)/, "changed");
    await putDocument(stack.url, "original", `${original}\n`);
    const before = await indexContents(stack);
    const copy = await putDocument(stack.url, "copy", `${nearCopy}\n`);
    expect(copy.result).toMatchObject({ nearDuplicates: 1, embedded: 0, indexWrites: 0 });
    expect((await indexContents(stack)).size).toBe(before.size);
    const record = (await (await fetch(`${stack.url}/v1/documents/copy`)).json()) as { nearDuplicates: number };
    expect(record.nearDuplicates).toBe(1);
    const originalHash = [...before.keys()].find((h) => before.get(h) === `${original}`);
    const chunks = (await (await fetch(`${stack.url}/v1/documents/copy/chunks`)).json()) as { chunks: Array<{ nearDuplicateOf?: string; indexedAs: string }> };
    expect(chunks.chunks).toEqual([expect.objectContaining({ nearDuplicateOf: originalHash, indexedAs: originalHash })]);
    // Filtered to the copy, search finds the original's text, which stands for it.
    const standIn = (await searchApi(stack.url, { query: nearCopy, k: 1, filter: { documentId: "copy" } })).body.results;
    expect(standIn[0]?.documentId).toBe("original");

    const removed = await deleteDocument(stack.url, "original");
    expect(removed.result).toMatchObject({ promoted: 1, indexRemovals: 1, embedded: 1 });
    const now = (await searchApi(stack.url, { query: nearCopy, k: 1 })).body.results;
    expect(now[0]).toMatchObject({ documentId: "copy", text: nearCopy });
  });

  it("shows each hit from the chunk store, read for all hits in one HMGET, and leaves out a hit whose entry is gone", async () => {
    await putDocument(stack.url, "shown", `---\ntitle: Shown Title\ntags: [alpha, beta]\n---\n# Shown\n\n${prose(40)}\n\n## Second\n\n${prose(41)}\n`);
    const key = `${registryPrefix(stack.config.redis.prefix, profileKey(stack.config))}:chunks`;
    const monitor = await stack.runtime.redis.duplicate().monitor();
    const commands: string[][] = [];
    const marker = `search-done-${Date.now()}`;
    const seen = new Promise<void>((resolve) =>
      monitor.on("monitor", (_time: string, args: string[]) => {
        commands.push(args);
        if (args[0]?.toLowerCase() === "echo" && args[1] === marker) resolve();
      }),
    );
    const { body } = await searchApi(stack.url, { query: prose(40), k: 5, filter: { documentId: "shown" } });
    await stack.runtime.redis.echo(marker);
    await seen;
    monitor.disconnect();
    expect(commands.filter((c) => c.includes(key)).map((c) => c[0]?.toLowerCase())).toEqual(["hmget"]);

    const results = body.results as unknown as Array<Record<string, unknown> & { chunkId: string }>;
    expect(results).toHaveLength(2);
    const entries = await createChunkStore(stack.runtime.redis, registryPrefix(stack.config.redis.prefix, profileKey(stack.config))).get(results.map((r) => r.chunkId));
    for (const [i, hit] of results.entries()) {
      const { rank, score, chunkId, ...shown } = hit;
      expect({ rank, chunkId }).toEqual({ rank: i + 1, chunkId: results[i]?.chunkId });
      expect(typeof score).toBe("number");
      expect(shown).toEqual(entries.get(chunkId));
    }
    expect(results[0]).toMatchObject({ documentId: "shown", documentIds: ["shown"], title: "Shown Title", source: "shown.md", headingPath: ["Shown"], tags: ["alpha", "beta"], contentType: "text/markdown" });
    expect(results[0]?.text).toContain(prose(40));

    await stack.runtime.redis.hdel(key, results[0]!.chunkId);
    const after = (await searchApi(stack.url, { query: prose(40), k: 5, filter: { documentId: "shown" } })).body.results as unknown as Array<{ chunkId: string; rank: number }>;
    expect(after.map((r) => [r.rank, r.chunkId])).toEqual([[1, results[1]?.chunkId]]);
    expect((await deleteDocument(stack.url, "shown")).result).toMatchObject({ outcome: "deleted", indexRemovals: 2 });
  });

  it("ingests a document again after it was deleted and uploaded anew (regression: its version-1 job id was taken by the old job)", async () => {
    const text = `# Again\n\n${prose(30)}\n`;
    await putDocument(stack.url, "again", text);
    await deleteDocument(stack.url, "again");
    const back = await putDocument(stack.url, "again", text);
    expect(back.result).toMatchObject({ outcome: "indexed", indexWrites: 1 });
    expect((await searchApi(stack.url, { query: prose(30), k: 1 })).body.results[0]?.documentId).toBe("again");
  });

  it("ends two concurrent replaces of one document with the later version", async () => {
    await putDocument(stack.url, "race", `# Race\n\n${prose(20)}\n`);
    const [first, second] = await Promise.all([putDocument(stack.url, "race", `# Race\n\n${prose(21)}\n`), putDocument(stack.url, "race", `# Race\n\n${prose(22)}\n`)]);
    expect([first.state, second.state]).toEqual(["completed", "completed"]);
    const record = (await (await fetch(`${stack.url}/v1/documents/race`)).json()) as { version: number; indexedVersion: number; status: string };
    expect(record).toMatchObject({ status: "indexed", version: 3, indexedVersion: 3 });
    const texts = [...(await indexContents(stack)).values()];
    const v3 = [21, 22].find((seed) => texts.some((t) => t.includes(prose(seed))));
    const other = v3 === 21 ? 22 : 21;
    expect(texts.some((t) => t.includes(prose(other)))).toBe(false);
    expect(texts.some((t) => t.includes(prose(20)))).toBe(false);
  });
});
