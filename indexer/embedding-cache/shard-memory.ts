/**
 * Recently read or written shard bodies, least recently used dropped first,
 * bounded by bytes: a sync that reads a shard it (or the job before it) just
 * wrote costs no store read. Shards are create-only and never change, so a
 * body held here is never stale; a shard deleted by hand is still served from
 * here until it falls out, which is harmless (its lines are still valid).
 */
export interface ShardMemory {
  get(key: string): Buffer | undefined;
  set(key: string, body: Buffer): void;
  readonly bytes: number;
}

export function createShardMemory(maxBytes: number): ShardMemory {
  const bodies = new Map<string, Buffer>();
  let bytes = 0;
  return {
    get: (key) => {
      const body = bodies.get(key);
      if (body) {
        bodies.delete(key); // re-inserted last: Map keeps insertion order, so the first key is the least recent
        bodies.set(key, body);
      }
      return body;
    },
    set: (key, body) => {
      if (body.length > maxBytes) return;
      const old = bodies.get(key);
      if (old) {
        bodies.delete(key);
        bytes -= old.length;
      }
      bodies.set(key, body);
      bytes += body.length;
      for (const [oldest, held] of bodies) {
        if (bytes <= maxBytes) break;
        bodies.delete(oldest);
        bytes -= held.length;
      }
    },
    get bytes() {
      return bytes;
    },
  };
}
