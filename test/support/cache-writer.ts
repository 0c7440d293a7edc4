/**
 * One process writing the embedding cache (test/embedding-cache.int.test.ts):
 * argv root redisUrl redisPrefix. Says "ready", waits for a line on stdin so
 * that every writer starts at once, puts the same 200 vectors as its peers in
 * 10 puts of 20, says "done".
 */
import { createInterface } from "node:readline";
import { Redis } from "ioredis";
import { pino } from "pino";
import { createEmbeddingCache } from "../../indexer/embedding-cache.js";
import { createLocalDirStore } from "../../src/stores/local-dir.js";
import { vectorFor } from "./vectors.js";

const [root, redisUrl, redisPrefix] = process.argv.slice(2) as [string, string, string];
const identity = { provider: "test", model: "processes", version: "1", dimensions: 16 };
const redis = new Redis(redisUrl);
const cache = createEmbeddingCache({ store: createLocalDirStore({ root }), redis, redisPrefix, logger: pino({ level: "silent" }) }, identity);
const ids = Array.from({ length: 200 }, (_, i) => `w${String(i).padStart(4, "0")}`);
process.stdout.write("ready\n");
await new Promise((resolve) => createInterface({ input: process.stdin }).once("line", resolve));
for (let i = 0; i < ids.length; i += 20) await cache.put(new Map(ids.slice(i, i + 20).map((id) => [id, vectorFor(id, 16)])));
process.stdout.write("done\n");
redis.disconnect();
process.exit(0);
