import { randomUUID } from "node:crypto";
import { Redis } from "ioredis";
import { afterAll, describe, expect, inject, it } from "vitest";
import type { Datapoint, StoredRestricts, VectorIndex } from "../indexer/indexes/vector-index.js";
import { commitAlone, createCommitter, type CommitRequest, type CommitSession } from "../indexer/sync/commit-group.js";

const redis = new Redis(inject("redisUrl"));
afterAll(() => redis.quit());

const request = (): CommitRequest => ({ redis, lockKey: `cg${randomUUID().slice(0, 8)}:lock`, lockOptions: { ttlMs: 5_000, waitMs: 5_000 } });

function recordingIndex() {
  const rows = new Map<string, Datapoint>();
  const upserts: number[] = [];
  const index = {
    name: "rec",
    dimensions: 2,
    upsert: async (points: readonly Datapoint[]) => {
      upserts.push(points.length);
      for (const p of points) rows.set(p.id, p);
    },
    updateRestricts: async () => undefined,
    remove: async (ids: readonly string[]) => {
      for (const id of ids) rows.delete(id);
    },
    fetch: async (ids: readonly string[]) => new Map(ids.flatMap((id): Array<[string, StoredRestricts]> => (rows.has(id) ? [[id, rows.get(id) as StoredRestricts]] : []))),
  } as unknown as VectorIndex;
  return { index, rows, upserts };
}

const datapoint = (id: string): Datapoint => ({ id, vector: [1, 0], restricts: { documentIds: [id], tags: [], contentTypes: [] }, numericRestricts: {} });

/** A document's work: reads what the group's index holds, adds its chunk, and defers its manifest. */
function documentWork(id: string, index: VectorIndex, log: string[], options: { fail?: boolean } = {}) {
  return async (session: CommitSession) => {
    const seen = [...(await session.index("v1", index).fetch(["doc1", "doc2", "doc3"])).keys()];
    log.push(`${id} sees ${seen.join(",") || "nothing"}`);
    await session.index("v1", index).upsert([datapoint(id)]);
    session.deferManifest(id, null, async () => {
      log.push(`${id} manifest`);
    });
    if (options.fail) throw new Error(`${id} broke`);
    return id;
  };
}

describe("commit groups", () => {
  it("runs the documents ready together under one lease, one after another, with one index write and the manifests after it", async () => {
    const { index, rows, upserts } = recordingIndex();
    const committer = createCommitter({ maxGroup: 10 });
    const log: string[] = [];
    const req = request();
    // The first takes the lease alone; the two that arrive while it holds the lease form the next group.
    const first = committer.commit(req, documentWork("doc1", index, log));
    const rest = [committer.commit(req, documentWork("doc2", index, log)), committer.commit(req, documentWork("doc3", index, log))];
    expect(await Promise.all([first, ...rest])).toEqual(["doc1", "doc2", "doc3"]);
    expect(log).toEqual(["doc1 sees nothing", "doc1 manifest", "doc2 sees doc1", "doc3 sees doc1,doc2", "doc2 manifest", "doc3 manifest"]);
    expect(upserts).toEqual([1, 2]);
    expect([...rows.keys()].sort()).toEqual(["doc1", "doc2", "doc3"]);
    expect(await redis.exists(req.lockKey)).toBe(0);
  });

  it("fails only the document that failed: its manifest is not written, the others' are, and its datapoints still reach the index", async () => {
    const { index, rows } = recordingIndex();
    const committer = createCommitter({ maxGroup: 10 });
    const log: string[] = [];
    const req = request();
    const blocker = committer.commit(req, async () => "first");
    const outcomes = await Promise.allSettled([blocker, committer.commit(req, documentWork("doc1", index, log, { fail: true })), committer.commit(req, documentWork("doc2", index, log))]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "fulfilled"]);
    expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ message: "doc1 broke" });
    expect(log).toEqual(["doc1 sees nothing", "doc2 sees doc1", "doc2 manifest"]);
    expect([...rows.keys()].sort()).toEqual(["doc1", "doc2"]);
  });

  it("writes nothing to the index and no manifest when the lease was lost before the group's index write, and fails every document of the group", async () => {
    const { index, upserts } = recordingIndex();
    const log: string[] = [];
    const req = request();
    const outcome = commitAlone.commit(req, async (session) => {
      await documentWork("doc1", index, log)(session);
      await redis.set(req.lockKey, "someone else"); // the lease expired and another process took it
      return "doc1";
    });
    await expect(outcome).rejects.toThrow(/corpus lock was lost/);
    expect(upserts).toEqual([]);
    expect(log).toEqual(["doc1 sees nothing"]);
    await redis.del(req.lockKey);
  });

  it("fails every document of the group when the index write fails, and writes none of their manifests", async () => {
    const { index } = recordingIndex();
    (index as { upsert: VectorIndex["upsert"] }).upsert = async () => {
      throw new Error("index unavailable");
    };
    const committer = createCommitter({ maxGroup: 10 });
    const log: string[] = [];
    const req = request();
    const blocker = committer.commit(req, async () => "first");
    const outcomes = await Promise.allSettled([blocker, committer.commit(req, documentWork("doc1", index, log)), committer.commit(req, documentWork("doc2", index, log))]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "rejected"]);
    expect(log.filter((line) => line.endsWith("manifest"))).toEqual([]);
  });

  it("fails every document of the group when a write in the middle of it fails, the earlier ones too: their held-back datapoints were in that write", async () => {
    const { index, rows } = recordingIndex();
    (index as { upsert: VectorIndex["upsert"] }).upsert = async () => {
      throw new Error("index unavailable");
    };
    const committer = createCommitter({ maxGroup: 10 });
    const log: string[] = [];
    const req = request();
    const blocker = committer.commit(req, async () => "first");
    // The second document updates restricts, which writes what the group holds back first (write-buffer.ts).
    const restricting = async (session: CommitSession) => {
      await session.index("v1", index).updateRestricts([{ id: "doc1", restricts: { documentIds: ["doc2"], tags: [], contentTypes: [] }, numericRestricts: {} }]);
      return "doc2";
    };
    const manifestOnly = async (session: CommitSession) => {
      session.deferManifest("doc3", null, async () => void log.push("doc3 manifest"));
      return "doc3";
    };
    const outcomes = await Promise.allSettled([blocker, committer.commit(req, documentWork("doc1", index, log)), committer.commit(req, restricting), committer.commit(req, manifestOnly)]);
    expect(outcomes.map((o) => o.status)).toEqual(["fulfilled", "rejected", "rejected", "rejected"]);
    expect(log.filter((line) => line.endsWith("manifest"))).toEqual([]);
    expect(rows.size).toBe(0);
  });

  it("reads what the index holds of the whole group's chunks in one call, and each document sees the writes of those before it", async () => {
    const { index } = recordingIndex();
    let fetches = 0;
    const fetch = index.fetch.bind(index);
    (index as { fetch: VectorIndex["fetch"] }).fetch = async (ids) => (fetches++, fetch(ids));
    const committer = createCommitter({ maxGroup: 10 });
    const log: string[] = [];
    const req = request();
    const primes = [{ version: "v1", index, ids: ["doc1", "doc2", "doc3"] }];
    const blocker = committer.commit(req, async () => "first");
    await Promise.all([blocker, ...["doc1", "doc2", "doc3"].map((id) => committer.commit(req, documentWork(id, index, log), primes))]);
    expect(fetches).toBe(1);
    expect(log.filter((line) => line.includes("sees"))).toEqual(["doc1 sees nothing", "doc2 sees doc1", "doc3 sees doc1,doc2"]);
  });

  it("keeps groups to maxGroup documents", async () => {
    const { index, upserts } = recordingIndex();
    const committer = createCommitter({ maxGroup: 2 });
    const req = request();
    const blocker = committer.commit(req, async () => "first");
    await Promise.all([blocker, ...["doc1", "doc2", "doc3", "doc4", "doc5"].map((id) => committer.commit(req, documentWork(id, index, [])))]);
    expect(upserts).toEqual([2, 2, 1]);
  });
});
