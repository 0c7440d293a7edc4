import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { barPayload, createPlainProgress, formatEta, formatProgressLine, progressStats } from "./ingest-progress.js";

// eslint-disable-next-line no-control-regex
const ANSI = /\u001b\[/;

describe("ingest progress rates and ETA", () => {
  it("divides what ended by the time elapsed, and the documents left by that rate", () => {
    expect(progressStats({ done: 120, total: 200, chunks: 6_512 }, 4_000)).toEqual({
      done: 120,
      total: 200,
      chunks: 6_512,
      documentsPerSecond: 30,
      chunksPerSecond: 1_628,
      etaSeconds: 80 / 30,
    });
  });

  it("has no ETA before the first document ends, and an ETA of 0 once every document has", () => {
    expect(progressStats({ done: 0, total: 10, chunks: 0 }, 5_000).etaSeconds).toBeUndefined();
    expect(progressStats({ done: 3, total: 10, chunks: 9 }, 0).etaSeconds).toBeUndefined();
    expect(progressStats({ done: 10, total: 10, chunks: 50 }, 5_000).etaSeconds).toBe(0);
    expect(progressStats({ done: 0, total: 0, chunks: 0 }, 0).etaSeconds).toBe(0);
  });

  const counts = fc.record({ done: fc.integer({ min: -5, max: 10_000 }), total: fc.integer({ min: -5, max: 10_000 }), chunks: fc.integer({ min: -5, max: 1_000_000 }) });
  const elapsed = fc.oneof(fc.integer({ min: -1_000, max: 10_000_000 }), fc.double({ min: -1, max: 1e9, noNaN: true }));

  it("never counts more done than total, nor a negative or non-finite rate or ETA, whatever it is fed", () => {
    fc.assert(
      fc.property(counts, elapsed, (c, ms) => {
        const stats = progressStats(c, ms);
        expect(stats.done).toBeGreaterThanOrEqual(0);
        expect(stats.done).toBeLessThanOrEqual(stats.total);
        for (const rate of [stats.documentsPerSecond, stats.chunksPerSecond]) expect(Number.isFinite(rate) && rate >= 0).toBe(true);
        if (stats.etaSeconds !== undefined) expect(Number.isFinite(stats.etaSeconds) && stats.etaSeconds >= 0).toBe(true);
        expect(stats.etaSeconds === 0).toBe(stats.done === stats.total);
      }),
    );
  });

  it("never raises the ETA when more documents have ended in the same time", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000 }), fc.integer({ min: 1, max: 10_000_000 }), (a, b, total, ms) => {
        const [fewer, more] = [Math.min(a, b, total), Math.min(Math.max(a, b), total)];
        const before = progressStats({ done: fewer, total, chunks: 0 }, ms).etaSeconds as number;
        const after = progressStats({ done: more, total, chunks: 0 }, ms).etaSeconds as number;
        expect(after).toBeLessThanOrEqual(before);
      }),
    );
  });
});

describe("the ETA as people read it", () => {
  it("is seconds under a minute, minutes and seconds under an hour, then hours and minutes", () => {
    expect(formatEta(0)).toBe("0 s");
    expect(formatEta(2.4)).toBe("2 s");
    expect(formatEta(59.6)).toBe("1 min 0 s");
    expect(formatEta(125)).toBe("2 min 5 s");
    expect(formatEta(3_725)).toBe("1 h 2 min");
    expect(formatEta(undefined)).toBe("?");
  });
});

describe("the plain progress line", () => {
  it("says documents done of total, chunks, both rates and the ETA, with thousands separated", () => {
    expect(formatProgressLine(progressStats({ done: 120, total: 200, chunks: 6_512 }, 4_000))).toBe("ingest: 120/200 documents, 6,512 chunks, 30 docs/s, 1,628 chunks/s, ETA 3 s");
  });

  it("shows a rate under 10 with one decimal, so a slow ingest does not read as 0 docs/s", () => {
    expect(formatProgressLine(progressStats({ done: 3, total: 200, chunks: 40 }, 10_000))).toBe("ingest: 3/200 documents, 40 chunks, 0.3 docs/s, 4.0 chunks/s, ETA 10 min 57 s");
  });

  it("fills the bar's fields from the same figures", () => {
    expect(barPayload(progressStats({ done: 120, total: 200, chunks: 6_512 }, 4_000))).toEqual({ chunks: "6,512", documentRate: "30", chunkRate: "1,628", etaText: "3 s" });
  });
});

describe("plain progress for logs", () => {
  const run = (events: Array<[number, "update" | "queued" | "finish", number]>) => {
    const lines: string[] = [];
    let now = 0;
    const progress = createPlainProgress({ total: 10, startedAt: 0, write: (line) => lines.push(line), now: () => now, intervalMs: 5_000 });
    for (const [at, kind, done] of events) {
      now = at;
      if (kind === "queued") progress.queued(done);
      else progress[kind]({ done, chunks: done * 10 });
    }
    return lines;
  };

  it("writes a line at the first event, then at most one per interval, and always one at the end", () => {
    const lines = run([
      [100, "update", 1],
      [1_000, "update", 2],
      [4_000, "update", 3],
      [5_200, "update", 4],
      [6_000, "update", 5],
      [7_000, "finish", 10],
    ]);
    expect(lines).toEqual([
      "ingest: 1/10 documents, 10 chunks, 10 docs/s, 100 chunks/s, ETA 1 s",
      "ingest: 4/10 documents, 40 chunks, 0.8 docs/s, 7.7 chunks/s, ETA 8 s",
      "ingest: 10/10 documents, 100 chunks, 1.4 docs/s, 14 chunks/s, ETA 0 s",
    ]);
  });

  it("says once when every document is queued and the wait for the workers starts", () => {
    expect(run([[50, "queued", 10]])).toEqual(["ingest: 10 documents queued, waiting for the workers"]);
  });

  it("writes no terminal escape codes", () => {
    for (const line of run([[100, "update", 1], [200, "queued", 10], [9_000, "finish", 10]])) expect(line).not.toMatch(ANSI);
  });
});
