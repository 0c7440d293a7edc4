import { defineConfig } from "vitest/config";

export default defineConfig({
  test: {
    include: ["{core,src,ingest,indexer,config,test}/**/*.test.ts"],
    globalSetup: ["test/setup/redis.ts"],
    // LanceDB's native module is safest in child processes rather than worker threads.
    pool: "forks",
    // Most integration tests wait on Redis, LanceDB and child processes, not the CPU: three files at a time
    // roughly halve the suite's wall time on 2 cores (vitest's default there is one).
    maxWorkers: 3,
    // Limits for a busy 2-core machine: tests wait on events, these only stop a hung one.
    testTimeout: 120_000,
    hookTimeout: 120_000,
  },
});
