import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { putDocument, searchApi, startStack, type Stack } from "./support/stack.js";

/** A document of several sections, each its own chunk (minSectionTokens 0), all about batteries. */
const manual = (name: string) =>
  [
    `# ${name} battery guide`,
    `## Replacing the ${name} battery\n\nSwitch the ${name} off, open the battery bay and swap the battery pack for a charged one.`,
    `## Charging the ${name} battery\n\nCharge the ${name} battery pack on its dock until the battery light turns green.`,
    `## Storing the ${name} battery\n\nStore a spare ${name} battery pack half charged, away from heat, and check the battery monthly.`,
    `## Recycling the ${name} battery\n\nReturn a worn ${name} battery pack to the depot; never put a battery in household waste.`,
  ].join("\n\n");

interface Hit {
  rank: number;
  score: number;
  chunkId: string;
  documentId: string;
}

async function hits(stack: Stack, body: Record<string, unknown>): Promise<Hit[]> {
  const { status, body: answer } = await searchApi(stack.url, { query: "replace and charge the battery pack", ...body });
  expect(status, JSON.stringify(answer)).toBe(200);
  return answer.results as unknown as Hit[];
}

describe("search result shapes (issue 13)", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack({ chunking: { minSectionTokens: 0 } });
    for (const name of ["rover", "drone", "scanner"]) expect((await putDocument(stack.url, name, manual(name))).state).toBe("completed");
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it('group: "document" answers each document once, with its best chunk, in the order of the ungrouped ranking', async () => {
    const ranking = await hits(stack, { k: 20 });
    expect(new Set(ranking.slice(0, 6).map((h) => h.documentId)).size).toBeLessThan(6); // documents repeat ungrouped
    const grouped = await hits(stack, { k: 3, group: "document" });
    expect(grouped.map((h) => h.rank)).toEqual([1, 2, 3]);
    expect(new Set(grouped.map((h) => h.documentId)).size).toBe(3);
    const bestOfEach = ranking.filter((h, i) => ranking.findIndex((o) => o.documentId === h.documentId) === i);
    expect(grouped.map((h) => h.chunkId)).toEqual(bestOfEach.map((h) => h.chunkId));
    expect((await hits(stack, { k: 2, group: "document" })).map((h) => h.chunkId)).toEqual(bestOfEach.slice(0, 2).map((h) => h.chunkId));
  });

  it("minScore drops the hits scored below it and keeps the order of the rest", async () => {
    const ranking = await hits(stack, { k: 10 });
    const threshold = (ranking[2] as Hit).score;
    const kept = await hits(stack, { k: 10, minScore: threshold });
    expect(kept.map((h) => h.chunkId)).toEqual(ranking.filter((h) => h.score >= threshold).map((h) => h.chunkId));
    expect(kept.map((h) => h.rank)).toEqual(kept.map((_, i) => i + 1));
    expect(await hits(stack, { k: 10, minScore: 1.5 })).toEqual([]);
    const groupedAbove = await hits(stack, { k: 3, group: "document", minScore: threshold });
    for (const hit of groupedAbove) expect(hit.score).toBeGreaterThanOrEqual(threshold);
  });

  it("names the field in a 400 for a group or minScore it cannot use", async () => {
    const group = await searchApi(stack.url, { query: "battery", group: "page" });
    expect(group.status).toBe(400);
    expect(group.body.error?.message).toMatch(/^group: /);
    const minScore = await searchApi(stack.url, { query: "battery", minScore: "high" });
    expect(minScore.status).toBe(400);
    expect(minScore.body.error?.message).toMatch(/^minScore: /);
  });
});
