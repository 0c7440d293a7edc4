import { describe, expect, it } from "vitest";
import { createShardMemory } from "./shard-memory.js";

const body = (bytes: number) => Buffer.alloc(bytes);

describe("shard memory", () => {
  it("drops the least recently used bodies once past its byte bound", () => {
    const memory = createShardMemory(100);
    memory.set("a", body(40));
    memory.set("b", body(40));
    memory.get("a"); // now b is the least recent
    memory.set("c", body(40));
    expect(memory.get("b")).toBeUndefined();
    expect(memory.get("a")).toBeDefined();
    expect(memory.get("c")).toBeDefined();
    expect(memory.bytes).toBe(80);
  });

  it("keeps nothing larger than its bound, and counts a body set twice once", () => {
    const memory = createShardMemory(100);
    memory.set("huge", body(101));
    expect(memory.get("huge")).toBeUndefined();
    memory.set("a", body(30));
    memory.set("a", body(30));
    expect(memory.bytes).toBe(30);
  });
});
