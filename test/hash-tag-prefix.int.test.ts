import { randomUUID } from "node:crypto";
import { describe, expect, inject, it } from "vitest";
import { deleteDocument, putDocument, searchApi, startStack } from "./support/stack.js";

describe("a Redis key prefix in braces (a Redis Cluster hash tag)", () => {
  it("keeps every key ragops and BullMQ write under the tag, and ingest, search and delete work as with a plain prefix", async () => {
    const tag = `h${randomUUID().slice(0, 8)}`;
    const stack = await startStack({ redis: { url: inject("redisUrl"), prefix: `{${tag}}` } });
    try {
      const text = "# Kestrel pump\n\nThe kestrel pump primes itself within ninety seconds of a cold start.\n";
      expect((await putDocument(stack.url, "pump", text)).state).toBe("completed");
      expect((await searchApi(stack.url, { query: "kestrel pump primes itself", k: 1 })).body.results[0]?.documentId).toBe("pump");
      const keys = await stack.runtime.redis.keys(`*${tag}*`);
      expect(keys.length).toBeGreaterThan(0);
      // A hash tag is the part between the first { and the next }: every key must start with the whole tag.
      expect(keys.filter((key) => !key.startsWith(`{${tag}}`))).toEqual([]);
      expect((await deleteDocument(stack.url, "pump")).state).toBe("completed");
      expect((await searchApi(stack.url, { query: "kestrel pump primes itself", k: 1 })).body.results).toEqual([]);
    } finally {
      await stack.stop();
    }
  });
});
