import type { ChildProcess } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { inject } from "vitest";
import { loadConfig } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import { openRuntime, type Runtime } from "../../src/runtime.js";

/** A stack whose processes are `ragops` children reading one config file, and this process's runtime on the same stores. */
export interface FileStack {
  config: Config;
  /** RAGOPS_CONFIG for the children. */
  configFile: string;
  runtime: Runtime;
  /** Children the test started; stop() kills those still running. */
  children: ChildProcess[];
  stop(): Promise<void>;
}

/**
 * A config file on a fresh data directory, with a Redis prefix of its own and
 * short job locks (a killed process's jobs are taken back within a second or
 * two), `settings` laid over it.
 */
export async function openFileStack(name: string, settings: Record<string, unknown> = {}): Promise<FileStack> {
  const dataDir = mkdtempSync(join(tmpdir(), `ragops-${name}-`));
  const configFile = join(dataDir, "ragops.json");
  const base = { dataDir, redis: { url: inject("redisUrl"), prefix: `${name.slice(0, 4)}${randomUUID().slice(0, 6)}` }, queue: { lockDurationMs: 1_500, stalledIntervalMs: 700, backoffMs: 50 }, http: { port: 0 }, log: { level: "warn" } };
  writeFileSync(configFile, JSON.stringify({ ...base, ...settings }));
  const config = loadConfig({ env: {}, file: configFile });
  const runtime = await openRuntime(config);
  const children: ChildProcess[] = [];
  return {
    config,
    configFile,
    runtime,
    children,
    stop: async () => {
      for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      await runtime.queue.obliterate({ force: true }).catch(() => undefined);
      await runtime.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}
