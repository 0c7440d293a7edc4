import { defineConfig } from "vitest/config";

/**
 * The fault suite (`npm run test:faults`): workers killed mid-job, Redis
 * flushed, object store writes failing, workers racing. Its files end in
 * `.fault.ts`, so `npm test` (which takes `*.test.ts`) does not run them.
 */
export default defineConfig({
  test: {
    include: ["test/faults/**/*.fault.ts"],
    globalSetup: ["test/setup/redis.ts", "test/faults/summary.ts"],
    pool: "forks",
    // The scenarios spawn workers and wait on Redis and LanceDB: two files at a time on 2 cores.
    maxWorkers: 2,
    // Limits that only stop a hung scenario; the suite as a whole must stay under 90 s.
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
