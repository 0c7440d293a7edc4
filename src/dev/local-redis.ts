import { spawn, type ChildProcess } from "node:child_process";
import { accessSync, constants, mkdirSync } from "node:fs";
import { createServer } from "node:net";
import { delimiter, join } from "node:path";
import { Redis } from "ioredis";
import { UnavailableError } from "../../core/errors.js";

/**
 * For the demo and the tests: use the Redis at `url` when one answers, or start
 * a private redis-server (no persistence) under `dir` when none does.
 */
export interface LocalRedis {
  url: string;
  /** True when this process started the server (and stop() shuts it down). */
  started: boolean;
  stop(): Promise<void>;
}

const REDIS_INSTALL_HINT =
  "redis-server is not installed. Install it with `sudo apt-get install -y redis-server` (Debian/Ubuntu; as root: `apt-get update && apt-get install -y redis-server`) or `brew install redis` (macOS), or set REDIS_URL to a running Redis.";

export async function ensureRedis(url: string, options: { dir: string; preferUrlPort?: boolean; searchPath?: string }): Promise<LocalRedis> {
  if (await answers(url)) return { url, started: false, stop: async () => undefined };
  const parsed = new URL(url);
  if (!["127.0.0.1", "localhost", "::1", "[::1]"].includes(parsed.hostname)) {
    throw new UnavailableError(`no Redis answers at ${url}; it is not on this machine, so ragops will not start one there`);
  }
  const binary = findOnPath("redis-server", options.searchPath ?? process.env.PATH ?? "");
  if (!binary) throw new UnavailableError(REDIS_INSTALL_HINT, { retryable: false });
  const wanted = options.preferUrlPort === false ? 0 : Number(parsed.port || 6379);
  const port = (await portIsFree(wanted)) ? wanted : await freePort();
  mkdirSync(options.dir, { recursive: true });
  const child = spawn(
    binary,
    ["--port", String(port), "--bind", "127.0.0.1", "--dir", options.dir, "--save", "", "--appendonly", "no", "--logfile", join(options.dir, "redis.log")],
    { stdio: "ignore" },
  );
  const localUrl = `redis://127.0.0.1:${port}`;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 10_000;
  while (!(await answers(localUrl))) {
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill("SIGKILL");
      throw new UnavailableError(`redis-server did not start on port ${port}; see ${join(options.dir, "redis.log")}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return { url: localUrl, started: true, stop: () => stopChild(child, exited) };
}

async function stopChild(child: ChildProcess, exited: Promise<void>): Promise<void> {
  if (child.exitCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
  await exited;
  clearTimeout(timer);
}

async function answers(url: string): Promise<boolean> {
  const client = new Redis(url, { lazyConnect: true, connectTimeout: 1_000, maxRetriesPerRequest: 0, retryStrategy: () => null, enableOfflineQueue: false });
  client.on("error", () => undefined);
  try {
    await client.connect();
    return (await client.ping()) === "PONG";
  } catch {
    return false;
  } finally {
    client.disconnect();
  }
}

function findOnPath(name: string, searchPath: string): string | undefined {
  for (const dir of searchPath.split(delimiter).filter(Boolean)) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not here
    }
  }
  return undefined;
}

function portIsFree(port: number): Promise<boolean> {
  if (port === 0) return Promise.resolve(false);
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen(port, "127.0.0.1", () => server.close(() => resolve(true)));
  });
}

/** A TCP port free on 127.0.0.1 now. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}
