import { randomBytes } from "node:crypto";
import type { EmbedderIdentity } from "../embedders/embedder.js";

/**
 * The embedding cache's objects: shards of Vertex AI Vector Search batch lines.
 *
 * A shard is one object `embeddings/<embedderKey>/shards/<shard id>.json`, one
 * line per vector, `{"id":"<chunk hash>","embedding":[…]}\n`, exactly what a
 * Vertex batch directory (contentsDeltaUri) accepts as a data file, so a batch
 * rebuild can copy a shard there as it is. The suffix is `.json` because Vertex
 * reads data files by suffix (.json, .csv or .avro) and ignores others.
 *
 * Floats are written with 9 significant digits, which name every float32
 * exactly (FLT_DECIMAL_DIG): about 12 characters a number instead of 19 for
 * the float64 form.
 */

/** Vectors of one embedder identity, whatever produced them, share a cache; the key is also a path segment. */
export function embedderKey(identity: EmbedderIdentity): string {
  return `${identity.provider}.${identity.model}.v${identity.version}.d${identity.dimensions}`.replace(/[^A-Za-z0-9._-]/g, "-");
}

/** Where one embedder's cache lives in the object store. */
export interface CacheLayout {
  /** `embeddings/<embedderKey>` */
  base: string;
  /** Prefix of every shard; list it to find them all. */
  shardPrefix: string;
  shardKey(shardId: string): string;
  /** Records that the per-chunk objects of the old layout were packed into shards (once). */
  markerKey: string;
}

export function cacheLayout(identity: EmbedderIdentity): CacheLayout {
  const base = `embeddings/${embedderKey(identity)}`;
  const shardPrefix = `${base}/shards/`;
  return { base, shardPrefix, shardKey: (shardId) => `${shardPrefix}${shardId}.json`, markerKey: `${base}/layout.json` };
}

/** The shard id of a shard key, or undefined for a key that is not one. */
export function shardIdOf(layout: CacheLayout, key: string): string | undefined {
  if (!key.startsWith(layout.shardPrefix) || !key.endsWith(".json")) return undefined;
  const id = key.slice(layout.shardPrefix.length, -".json".length);
  return id && !id.includes("/") && !id.includes(":") ? id : undefined;
}

/** Old layout: one object per vector, `<base>/<first 2 characters of the hash>/<hash>.json`. Returns the hash, or undefined. */
export function oldLayoutHash(layout: CacheLayout, key: string): string | undefined {
  const match = /^([^/]{2})\/([^/]+)\.json$/.exec(key.slice(layout.base.length + 1));
  if (!key.startsWith(`${layout.base}/`) || !match) return undefined;
  const hash = match[2] as string;
  return hash.startsWith(match[1] as string) ? hash : undefined;
}

/**
 * A shard's name: UTC time to the millisecond, so names sort by age (a
 * compaction or a rebuild can take the oldest first), then random hex, so two
 * writers in one millisecond differ. E.g. 20250301T101502123Z-3f9a0c1b.
 */
export function newShardId(now = new Date()): string {
  return `${now.toISOString().replace(/[-:.]/g, "")}-${randomBytes(4).toString("hex")}`;
}

/** Where one vector's line sits in its shard: bytes, the newline excluded. */
export interface LinePlace {
  offset: number;
  length: number;
}

export interface EncodedShard {
  body: Buffer;
  lines: Map<string, LinePlace>;
}

/** A float32 as JSON that reads back as the same float32: 9 significant digits always do (FLT_DECIMAL_DIG; the round-trip property test checks it). */
export function formatFloat32(x: number): string {
  return Object.is(x, -0) ? "-0" : x.toPrecision(9);
}

/** One batch line: `{"id":…,"embedding":[…]}` without the newline. Throws on a value JSON cannot hold (NaN, ±Infinity). */
export function encodeLine(id: string, vector: Float32Array, numbers: string[] = []): string {
  numbers.length = vector.length;
  for (let i = 0; i < vector.length; i += 1) {
    const x = vector[i] as number;
    if (!Number.isFinite(x)) throw new RangeError(`the vector of ${id} holds ${x} at ${i}; a batch file holds finite numbers only`);
    numbers[i] = formatFloat32(x);
  }
  return `{"id":${JSON.stringify(id)},"embedding":[${numbers.join(",")}]}`;
}

/**
 * A shard's body and where each vector's line is in it. Lines are written
 * straight into one growing buffer: joining them into one string first and
 * measuring each line's bytes cost more than formatting the numbers.
 */
export function encodeShard(vectors: Iterable<readonly [string, Float32Array]>): EncodedShard {
  const lines = new Map<string, LinePlace>();
  const numbers: string[] = [];
  let body = Buffer.allocUnsafe(64 * 1024);
  let offset = 0;
  for (const [id, vector] of vectors) {
    const line = `${encodeLine(id, vector, numbers)}\n`;
    const most = line.length * 3; // UTF-8 bytes of a UTF-16 unit, at most
    if (offset + most > body.length) {
      const grown = Buffer.allocUnsafe(Math.max(body.length * 2, offset + most));
      body.copy(grown, 0, 0, offset);
      body = grown;
    }
    const written = body.write(line, offset, "utf8");
    lines.set(id, { offset, length: written - 1 });
    offset += written;
  }
  return { body: Buffer.from(body.subarray(0, offset)), lines };
}

export type DecodedLine = { vector: Float32Array } | { problem: string };

/**
 * The vector of `id` at `place` in a shard body, checked: the bytes are one
 * whole line, it parses, its id is `id`, and it holds `dimensions` numbers.
 * A problem is returned, not thrown: a bad line is a cache miss.
 */
export function decodeLine(body: Buffer, place: LinePlace, id: string, dimensions: number): DecodedLine {
  const end = place.offset + place.length;
  const wholeLine = end <= body.length && (end === body.length || body[end] === 0x0a) && (place.offset === 0 || body[place.offset - 1] === 0x0a);
  if (!wholeLine) return { problem: `bytes ${place.offset}-${end} are not one line of the shard (${body.length} bytes)` };
  let line: unknown;
  try {
    line = JSON.parse(body.toString("utf8", place.offset, end));
  } catch (error) {
    return { problem: `the line does not parse: ${(error as Error).message}` };
  }
  const { id: found, embedding } = (line ?? {}) as { id?: unknown; embedding?: unknown };
  if (found !== id) return { problem: `the line is for id ${JSON.stringify(found)}` };
  if (!Array.isArray(embedding) || embedding.length !== dimensions) return { problem: `the embedding does not hold ${dimensions} values` };
  const vector = new Float32Array(dimensions);
  for (let i = 0; i < dimensions; i += 1) {
    const x: unknown = embedding[i];
    if (typeof x !== "number") return { problem: `the embedding holds ${JSON.stringify(x)} at ${i}` };
    vector[i] = x;
  }
  return { vector };
}

const ID_PREFIX = Buffer.from('{"id":"');

/**
 * Each line of a shard body with the id it holds, for rebuilding the lookup:
 * the id is read from the line's start without parsing the vector; a line in
 * another field order is parsed whole. `id` is undefined for a line that
 * holds no string id (corrupt).
 */
export function* scanShard(body: Buffer): Generator<{ id: string | undefined } & LinePlace> {
  let offset = 0;
  while (offset < body.length) {
    const newline = body.indexOf(0x0a, offset);
    const end = newline === -1 ? body.length : newline;
    if (end > offset) yield { id: lineId(body, offset, end), offset, length: end - offset };
    offset = end + 1;
  }
}

function lineId(body: Buffer, start: number, end: number): string | undefined {
  if (body.compare(ID_PREFIX, 0, ID_PREFIX.length, start, Math.min(end, start + ID_PREFIX.length)) === 0) {
    const from = start + ID_PREFIX.length;
    const close = body.indexOf(0x22, from);
    // Plain ids (hex hashes) have no escapes; anything else is left to JSON.parse. (Searched within the id only: a scan stays linear in the shard.)
    if (close !== -1 && close < end && body.subarray(from, close).indexOf(0x5c) === -1) return body.toString("utf8", from, close);
  }
  try {
    const { id } = JSON.parse(body.toString("utf8", start, end)) as { id?: unknown };
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}
