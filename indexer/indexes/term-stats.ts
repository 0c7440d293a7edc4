import type { Redis } from "ioredis";
import type { SparseVector, TermStats } from "./vector-index.js";

/**
 * BM25's term statistics for an index that cannot count them itself: Vertex
 * AI Vector Search keeps sparse embeddings but has no call that says how many
 * datapoints hold a dimension (no df API), so ragops keeps the counts beside
 * the index, in Redis, written by the adapter after each write it made:
 *
 * - `<prefix>:termstats:<version>:dp`, a hash: datapoint id → its sparse
 *   dimensions (decimal, comma-separated), for every datapoint holding a
 *   sparse vector. A replaced or removed datapoint's old dimensions are read
 *   from it, so the counts stay exact whatever the writes;
 * - `<prefix>:termstats:<version>:df`, a hash: dimension → datapoints holding it.
 *
 * Each write is one Lua script (atomic), so concurrent writers never lose an
 * increment. The counts follow the index's writes: a write that failed at
 * Vertex is not counted; a process killed between Vertex's answer and the
 * script leaves the counts a write behind, which a batch rebuild (full
 * overwrite) recounts from what it wrote. Cost: about 10 bytes a dimension per
 * datapoint (a 300-token chunk holds about 150 distinct terms: ~1.5 KB), plus
 * one df field per distinct term of the corpus.
 *
 * Redis is ragops' registry of derived state (the chunk registry, the chunk
 * store live there too); like them this can be rebuilt: `ragops index rebuild`
 * recounts it.
 */
export interface TermStatsStore {
  /** Counts these datapoints' sparse dimensions (replacing what an id counted before); a datapoint without a sparse vector counts nothing. */
  record(datapoints: ReadonlyArray<{ id: string; sparse?: SparseVector | undefined }>): Promise<void>;
  /** Forgets these datapoints' dimensions; ids never counted are fine. */
  forget(ids: readonly string[]): Promise<void>;
  /** Datapoints holding a sparse vector, and for each asked dimension how many hold it. */
  stats(dimensions: readonly number[]): Promise<TermStats>;
  /** Forgets everything (a full overwrite starts from nothing; a version's retire). */
  clear(): Promise<void>;
}

const NONE = "-";

// KEYS: dp, df; ARGV: id, dimensions ("-": no sparse vector), id, dimensions, ...
const RECORD = `
for i = 1, #ARGV, 2 do
  local id, new = ARGV[i], ARGV[i + 1]
  local old = redis.call("hget", KEYS[1], id)
  if old then
    for d in string.gmatch(old, "[^,]+") do
      if redis.call("hincrby", KEYS[2], d, -1) <= 0 then redis.call("hdel", KEYS[2], d) end
    end
  end
  if new == "${NONE}" then
    redis.call("hdel", KEYS[1], id)
  else
    redis.call("hset", KEYS[1], id, new)
    for d in string.gmatch(new, "[^,]+") do redis.call("hincrby", KEYS[2], d, 1) end
  end
end
return 1`;

/** Datapoints per script call: a script blocks Redis while it runs. */
const SCRIPT_BATCH = 200;

export function createRedisTermStats(redis: Redis, prefix: string, version: string): TermStatsStore {
  const dp = `${prefix}:termstats:${version}:dp`;
  const df = `${prefix}:termstats:${version}:df`;
  const run = async (pairs: string[]) => {
    for (let i = 0; i < pairs.length; i += 2 * SCRIPT_BATCH) await redis.eval(RECORD, 2, dp, df, ...pairs.slice(i, i + 2 * SCRIPT_BATCH));
  };
  return {
    record: async (datapoints) => {
      // The last of an id's datapoints wins, as in the index.
      const latest = new Map(datapoints.map((d) => [d.id, d.sparse]));
      await run([...latest].flatMap(([id, sparse]) => [id, sparse ? [...new Set(Array.from(sparse.dimensions))].join(",") : NONE]));
    },
    forget: async (ids) => run([...new Set(ids)].flatMap((id) => [id, NONE])),
    stats: async (dimensions) => {
      const pipeline = redis.pipeline().hlen(dp);
      if (dimensions.length > 0) pipeline.hmget(df, ...dimensions.map(String));
      const results = (await pipeline.exec()) ?? [];
      for (const [error] of results) if (error) throw error;
      const datapoints = Number(results[0]?.[1] ?? 0);
      const counts = (dimensions.length > 0 ? (results[1]?.[1] as Array<string | null>) : []).map((c) => Number(c ?? 0));
      return { datapoints, frequencies: counts };
    },
    clear: async () => {
      await redis.del(dp, df);
    },
  };
}

/**
 * Makes the counts kept under `staged` the version's own, in one MULTI (a
 * batch rebuild counts what it writes under a name of its own, then swaps it
 * in once Vertex applied the batch): searches see the old counts or the new.
 */
export async function promoteTermStats(redis: Redis, prefix: string, staged: string, version: string): Promise<void> {
  const key = (name: string, part: "dp" | "df") => `${prefix}:termstats:${name}:${part}`;
  const [dp, df] = await Promise.all([redis.exists(key(staged, "dp")), redis.exists(key(staged, "df"))]);
  const multi = redis.multi().del(key(version, "dp"), key(version, "df"));
  if (dp) multi.rename(key(staged, "dp"), key(version, "dp"));
  if (df) multi.rename(key(staged, "df"), key(version, "df"));
  await multi.exec();
}
