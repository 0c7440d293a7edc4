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

    it("refuses a write naming a generation when the object does not exist", async () => {
      const store = await open();
      const gone = await store.put("absent.json", "x");
      await store.delete("absent.json");
      await expect(store.put("absent.json", "y", { ifGenerationMatch: gone.generation })).rejects.toBeInstanceOf(ConflictError);
      await expect(store.delete("absent.json", { ifGenerationMatch: gone.generation })).rejects.toBeInstanceOf(ConflictError);
      expect(await store.head("absent.json")).toBeUndefined();
    });

    it("accepts a generation given as a number as well as a string", async () => {
      const store = await open();
      const v1 = await store.put("numeric.json", "v1");
      const v2 = await store.put("numeric.json", "v2", { ifGenerationMatch: Number(v1.generation) });
      expect(await store.delete("numeric.json", { ifGenerationMatch: Number(v2.generation) })).toBe(true);
    });

    it("gives an object created again after a delete a greater generation than the one deleted (no ABA)", async () => {
      const store = await open();
      for (let round = 0; round < 5; round += 1) {
        const first = await store.put("reborn.json", "1");
        const second = await store.put("reborn.json", "2", { ifGenerationMatch: first.generation });
        await store.delete("reborn.json");
        const reborn = await store.put("reborn.json", "3", { ifGenerationMatch: 0 });
        expect(BigInt(reborn.generation)).toBeGreaterThan(BigInt(second.generation));
        // A writer still holding the old generation must lose.
        await expect(store.put("reborn.json", "stale", { ifGenerationMatch: second.generation })).rejects.toBeInstanceOf(ConflictError);
        await store.delete("reborn.json");
      }
    });

    it("heads an object's generation, size, type and metadata without its body, and undefined when absent", async () => {
      const store = await open();
      const put = await store.put("h/meta.bin", Buffer.from([1, 2, 3]), { contentType: "application/octet-stream", metadata: { source: "test" } });
      expect(await store.head("h/meta.bin")).toMatchObject({ key: "h/meta.bin", generation: put.generation, size: 3, contentType: "application/octet-stream", metadata: { source: "test" } });
      expect(await store.head("h/missing.bin")).toBeUndefined();
    });

    it("streams an object's bytes with its meta, and refuses a missing key with NotFoundError", async () => {
      const store = await open();
      const bytes = Buffer.alloc(300 * 1024);
      for (let i = 0; i < bytes.length; i += 1) bytes[i] = (i * 31) % 251;
      const put = await store.put("s/large.bin", bytes, { contentType: "application/pdf" });
      const { meta, stream } = await store.getStream("s/large.bin");
      const parts: Buffer[] = [];
      for await (const part of stream) parts.push(part as Buffer);
      expect(Buffer.concat(parts).equals(bytes)).toBe(true);
      expect(meta).toMatchObject({ generation: put.generation, size: bytes.length, contentType: "application/pdf" });
      await expect(store.getStream("s/missing.bin")).rejects.toBeInstanceOf(NotFoundError);
    });

    it("round-trips an empty object", async () => {
      const store = await open();
      await store.put("empty.txt", "");
      expect((await store.get("empty.txt")).body.length).toBe(0);
      const { meta, stream } = await store.getStream("empty.txt");
      const parts: unknown[] = [];
      for await (const part of stream) parts.push(part);
      expect(meta.size).toBe(0);
      expect(parts.every((p) => (p as Buffer).length === 0)).toBe(true);
    });

    it("round-trips keys with spaces, unicode and URL-special characters", async () => {
      const store = await open();
      const keys = ["odd/a b.txt", "odd/é ü 漢字.md", "odd/50%+#?&=.json"];
      for (const key of keys) await store.put(key, `body of ${key}`);
      for (const key of keys) expect((await store.get(key)).body.toString()).toBe(`body of ${key}`);
      const listed: string[] = [];
      for await (const meta of store.list("odd/")) listed.push(meta.key);
      expect(listed).toEqual([...keys].sort());
      expect(await store.delete("odd/50%+#?&=.json")).toBe(true);
    });

    it("lists by a prefix that ends inside a name, with each object's generation and size, across many objects", async () => {
      const store = await open();
      const written = new Map<string, string>();
      for (let i = 0; i < 25; i += 1) {
        const key = `many/item-${String(i).padStart(2, "0")}.json`;
        written.set(key, (await store.put(key, "x".repeat(i))).generation);
      }
      await store.put("many/other.json", "o");
      const listed: Array<{ key: string; generation: string; size: number }> = [];
      for await (const meta of store.list("many/item-")) listed.push({ key: meta.key, generation: meta.generation, size: meta.size });
      expect(listed.map((m) => m.key)).toEqual([...written.keys()]);
      for (const meta of listed) expect(meta).toEqual({ key: meta.key, generation: written.get(meta.key), size: Number(/item-(\d+)/.exec(meta.key)?.[1]) });
      const everything: string[] = [];
      for await (const meta of store.list("")) everything.push(meta.key);
      expect(everything).toContain("many/other.json");
      expect(everything).toEqual([...everything].sort());
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
