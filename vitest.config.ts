import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{src,ingest,indexer,config,test}/**/*.test.ts"],
    globalSetup: ["test/setup/redis.ts"],
    // LanceDB's native module is safest in child processes rather than worker threads.
    pool: "forks",
    testTimeout: 30_000,
    hookTimeout: 30_000,
  },
});
