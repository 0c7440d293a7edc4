import { Readable } from "node:stream";
import { describe, expect, it } from "vitest";
import { ConflictError, InvalidKeyError, NotFoundError } from "../../core/errors.js";
import type { ObjectStore } from "../../core/object-store.js";

/** The behaviour every ObjectStore adapter must have; run once per adapter. */
export function objectStoreConformance(name: string, open: () => Promise<ObjectStore>): void {
  describe(`ObjectStore conformance: ${name}`, () => {
    it("round-trips bytes, content type and metadata with a generation", async () => {
      const store = await open();
      const meta = await store.put("a/b.txt", "hello", { contentType: "text/plain", metadata: { who: "test" } });
      expect(meta.generation).toMatch(/^\d+$/);
      const { body, meta: read } = await store.get("a/b.txt");
      expect(body.toString()).toBe("hello");
      expect(read).toMatchObject({ generation: meta.generation, size: 5, contentType: "text/plain", metadata: { who: "test" } });
    });

    it("gives every write a strictly greater generation", async () => {
      const store = await open();
      const first = await store.put("gen.json", "1");
      const second = await store.put("gen.json", "2");
      expect(BigInt(second.generation)).toBeGreaterThan(BigInt(first.generation));
    });

    it("refuses a create-only write (ifGenerationMatch 0) when the object exists", async () => {
      const store = await open();
      await store.put("alias.json", "blue", { ifGenerationMatch: 0 });
      await expect(store.put("alias.json", "green", { ifGenerationMatch: 0 })).rejects.toBeInstanceOf(ConflictError);
      expect((await store.get("alias.json")).body.toString()).toBe("blue");
    });

    it("refuses a write with a stale generation and accepts the current one", async () => {
      const store = await open();
      const v1 = await store.put("cas.json", "v1");
      const v2 = await store.put("cas.json", "v2", { ifGenerationMatch: v1.generation });
      await expect(store.put("cas.json", "lost update", { ifGenerationMatch: v1.generation })).rejects.toBeInstanceOf(ConflictError);
      expect((await store.get("cas.json")).body.toString()).toBe("v2");
      await store.put("cas.json", "v3", { ifGenerationMatch: v2.generation });
      expect((await store.get("cas.json")).body.toString()).toBe("v3");
    });

    it("lets exactly one of many racing compare-and-swap writers win", async () => {
      const store = await open();
      const base = await store.put("race.json", "base");
      const attempts = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => store.put("race.json", `writer ${i}`, { ifGenerationMatch: base.generation })));
      expect(attempts.filter((a) => a.status === "fulfilled")).toHaveLength(1);
      expect(attempts.filter((a) => a.status === "rejected" && a.reason instanceof ConflictError)).toHaveLength(7);
    });

    it("deletes only with a matching generation when one is given", async () => {
      const store = await open();
      const v1 = await store.put("del.json", "x");
      await store.put("del.json", "y");
      await expect(store.delete("del.json", { ifGenerationMatch: v1.generation })).rejects.toBeInstanceOf(ConflictError);
      expect(await store.delete("del.json")).toBe(true);
      expect(await store.head("del.json")).toBeUndefined();
      expect(await store.delete("del.json")).toBe(false);
      await expect(store.get("del.json")).rejects.toBeInstanceOf(NotFoundError);
    });

    it("lists by prefix in key order", async () => {
      const store = await open();
      for (const key of ["docs/b.json", "docs/a.json", "docs/sub/c.json", "other/d.json"]) await store.put(key, key);
      const keys: string[] = [];
      for await (const meta of store.list("docs/")) keys.push(meta.key);
      expect(keys).toEqual(["docs/a.json", "docs/b.json", "docs/sub/c.json"]);
    });

    it("never shows a partial object when a streamed write fails midway", async () => {
      const store = await open();
      await store.put("upload.bin", "the old complete content");
      const failing = new Readable({
        read() {
          this.push(Buffer.alloc(64 * 1024, 1));
          this.destroy(new Error("client went away"));
        },
      });
      await expect(store.put("upload.bin", failing)).rejects.toThrow("client went away");
      expect((await store.get("upload.bin")).body.toString()).toBe("the old complete content");
      await expect(store.put("fresh.bin", new Readable({ read() { this.destroy(new Error("boom")); } }))).rejects.toThrow("boom");
      expect(await store.head("fresh.bin")).toBeUndefined();
    });

    it("lets a reader see the old or the new object whole while a slow write is in progress", async () => {
      const store = await open();
      const old = Buffer.alloc(256 * 1024, "a");
      await store.put("slow.bin", old);
      let pushed = 0;
      const slow = new Readable({
        read() {
          if (pushed >= 8) return this.push(null);
          pushed += 1;
          setTimeout(() => this.push(Buffer.alloc(64 * 1024, "b")), 5);
        },
      });
      const writing = store.put("slow.bin", slow);
      const seen = new Set<string>();
      while (pushed < 8) {
        const { body } = await store.get("slow.bin");
        seen.add(body.equals(old) ? "old" : body.equals(Buffer.alloc(512 * 1024, "b")) ? "new" : "partial");
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      await writing;
      expect(seen.has("partial")).toBe(false);
      expect((await store.get("slow.bin")).body.equals(Buffer.alloc(512 * 1024, "b"))).toBe(true);
    });

    it.each([
      ["../../etc/passwd", "'.' and '..'"],
      ["/etc/passwd", "absolute"],
      ["a\\b", "backslash"],
      ["a\u0000b", "control"],
      ["a//b", "empty path segment"],
      [".locks/x", "reserved"],
      ["", "empty"],
    ])("rejects the key %j so nothing can leave the store (%s)", async (key, reason) => {
      const store = await open();
      await expect(store.put(key, "x")).rejects.toBeInstanceOf(InvalidKeyError);
      await expect(store.get(key)).rejects.toThrow(reason);
    });
  });
}
