import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { cacheLayout, decodeLine, encodeLine, encodeShard, formatFloat32, newShardId, oldLayoutHash, scanShard, shardIdOf } from "./shards.js";

const identity = { provider: "vertex", model: "text-embedding-005", version: "1", dimensions: 4 };
const bits = (v: Float32Array) => [...new Uint32Array(v.buffer, v.byteOffset, v.length)];
const finiteFloat = fc.float({ noNaN: true, noDefaultInfinity: true });

describe("embedding cache shard format", () => {
  it("writes every finite float32 so that it reads back as the same bits", () => {
    fc.assert(
      fc.property(finiteFloat, (x) => {
        const back = new Float32Array([JSON.parse(formatFloat32(x)) as number]);
        expect(bits(back)).toEqual(bits(new Float32Array([x])));
      }),
      { numRuns: 20_000 },
    );
  });

  it("writes the shortest safe form, not the float64 expansion", () => {
    expect(formatFloat32(Math.fround(0.1))).toBe("0.100000001");
    expect(formatFloat32(-0)).toBe("-0");
    expect(formatFloat32(Math.fround(1e-30))).toMatch(/^1\.\d+e-30$/);
  });

  it("writes a line Vertex accepts: an id and an embedding of plain JSON numbers, nothing else", () => {
    const line = encodeLine("ab12", new Float32Array([0.5, -0.25, 0, 3.4e38]));
    const parsed = JSON.parse(line) as Record<string, unknown>;
    expect(Object.keys(parsed)).toEqual(["id", "embedding"]);
    expect(parsed.id).toBe("ab12");
    // The numbers are decimal, read back as the same float32s (not the same float64s).
    expect(bits(Float32Array.from(parsed.embedding as number[]))).toEqual(bits(new Float32Array([0.5, -0.25, 0, 3.4e38])));
  });

  it("refuses a vector JSON cannot hold", () => {
    expect(() => encodeLine("x", new Float32Array([1, Number.NaN]))).toThrow(RangeError);
    expect(() => encodeLine("x", new Float32Array([Number.POSITIVE_INFINITY]))).toThrow(RangeError);
  });

  it("places every line of a shard so that it decodes alone to its vector, and a scan finds the same places", () => {
    const vectorOf = fc.float32Array({ minLength: 4, maxLength: 4, noNaN: true, noDefaultInfinity: true });
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(fc.stringMatching(/^[0-9a-f]{8}$/), vectorOf), { selector: ([id]) => id, minLength: 1, maxLength: 20 }), (entries) => {
        const { body, lines } = encodeShard(entries);
        for (const [id, vector] of entries) {
          const decoded = decodeLine(body, lines.get(id) as { offset: number; length: number }, id, 4);
          expect("vector" in decoded && bits(decoded.vector)).toEqual(bits(vector));
        }
        expect([...scanShard(body)].map(({ id, offset, length }) => [id, { offset, length }])).toEqual([...lines]);
      }),
    );
  });

  it("decodes nothing but the whole line of the asked id with the asked dimensions", () => {
    const { body, lines } = encodeShard([
      ["aa", new Float32Array([1, 2, 3, 4])],
      ["bb", new Float32Array([5, 6, 7, 8])],
    ]);
    const aa = lines.get("aa") as { offset: number; length: number };
    expect(decodeLine(body, aa, "bb", 4)).toMatchObject({ problem: expect.stringContaining("id") });
    expect(decodeLine(body, aa, "aa", 8)).toMatchObject({ problem: expect.stringContaining("8 values") });
    expect(decodeLine(body, { offset: aa.offset + 1, length: aa.length - 1 }, "aa", 4)).toMatchObject({ problem: expect.stringContaining("not one line") });
    expect(decodeLine(body, { offset: aa.offset, length: body.length + 10 }, "aa", 4)).toMatchObject({ problem: expect.stringContaining("not one line") });
    const corrupt = Buffer.from(body);
    corrupt.write("xx", aa.offset + 30);
    expect(decodeLine(corrupt, aa, "aa", 4)).toMatchObject({ problem: expect.stringContaining("parse") });
  });

  it("scans lines of another field order or with an escaped id, and marks a line with no id", () => {
    const body = Buffer.from(`{"embedding":[1],"id":"late"}\n{"id":"a\\"b","embedding":[2]}\nnot json\n\n{"id":"ok","embedding":[3]}`);
    expect([...scanShard(body)].map((l) => l.id)).toEqual(["late", 'a"b', undefined, "ok"]);
  });

  it("names shards so that they sort by time, and tells shard keys and old per-vector keys apart", () => {
    const layout = cacheLayout(identity);
    const early = newShardId(new Date("2025-03-01T10:15:02.123Z"));
    const late = newShardId(new Date("2025-03-01T10:15:02.124Z"));
    expect(early).toMatch(/^20250301T101502123Z-[0-9a-f]{8}$/);
    expect(early < late).toBe(true);
    expect(layout.shardKey(early)).toBe(`embeddings/vertex.text-embedding-005.v1.d4/shards/${early}.json`);
    expect(shardIdOf(layout, layout.shardKey(early))).toBe(early);
    expect(shardIdOf(layout, `${layout.base}/ab/abcd.json`)).toBeUndefined();
    expect(oldLayoutHash(layout, `${layout.base}/ab/abcd.json`)).toBe("abcd");
    expect(oldLayoutHash(layout, layout.shardKey(early))).toBeUndefined();
    expect(oldLayoutHash(layout, layout.markerKey)).toBeUndefined();
    expect(oldLayoutHash(layout, `${layout.base}/cd/abcd.json`)).toBeUndefined();
  });
});
