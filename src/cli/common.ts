import { InvalidArgumentError, type Command } from "commander";
import { loadConfig } from "../../config/load.js";
import type { Config } from "../../config/schema.js";
import { errorMessage } from "../../core/errors.js";

/** The options every command inherits from `ragops` itself. */
export interface GlobalOptions {
  config?: string;
  dataDir?: string;
  redisUrl?: string;
  logLevel?: string;
}

const integerAtLeast = (least: number, message: string) => (value: string) => {
  const n = Number(value);
  if (!Number.isInteger(n) || n < least) throw new InvalidArgumentError(message);
  return n;
};

export const positiveInt = integerAtLeast(1, "must be a positive integer");
export const nonNegativeInt = integerAtLeast(0, "must be a whole number, 0 or more");

export const finiteNumber = (value: string) => {
  const n = Number(value);
  if (value.trim() === "" || !Number.isFinite(n)) throw new InvalidArgumentError("must be a number");
  return n;
};

/** For a repeatable option: each use adds a value. */
export const collect = (value: string, previous: string[] = []) => [...previous, value];

/** The config for a command: file and environment, then the global options, then the command's own overrides. */
export function configFrom(command: Command, overrides: Record<string, unknown> = {}): Config {
  const global = command.optsWithGlobals<GlobalOptions>();
  return loadConfig({
    file: global.config,
    overrides: {
      ...overrides,
      ...(global.dataDir ? { dataDir: global.dataDir } : {}),
      // Merged, not replaced: a command's own redis or log settings (worker --strict) sit beside the global flags.
      ...(global.redisUrl ? { redis: { ...(overrides.redis as object | undefined), url: global.redisUrl } } : {}),
      ...(global.logLevel ? { log: { ...(overrides.log as object | undefined), level: global.logLevel } } : {}),
    },
  });
}

/** The config for a command that prints its own report: logs only warnings unless --log-level says otherwise. */
export function quietConfigFrom(command: Command): Config {
  return configFrom(command, { log: { level: command.optsWithGlobals<GlobalOptions>().logLevel ?? "warn" } });
}

/** Runs `stop` once on SIGTERM or SIGINT; a second signal exits at once (unless `forceOnSecondSignal` is false: it is then ignored). */
export function onShutdown(stop: (signal: string) => Promise<void>, options: { forceOnSecondSignal: boolean } = { forceOnSecondSignal: true }): void {
  let stopping = false;
  for (const signal of ["SIGTERM", "SIGINT"] as const) {
    process.on(signal, () => {
      if (stopping) {
        if (options.forceOnSecondSignal) process.exit(130);
        return;
      }
      stopping = true;
      void stop(signal).then(
        () => process.exit(0),
        (error: unknown) => {
          console.error(`ragops: shutdown failed: ${errorMessage(error)}`);
          process.exit(1);
        },
      );
    });
  }
}
