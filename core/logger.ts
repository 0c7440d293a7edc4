import { pino, type Logger } from "pino";

export type { Logger } from "pino";

/** JSON logs on stderr, so stdout stays free for the CLI's tables. */
export function createLogger(config: { log: { level: string } }, name = "ragops"): Logger {
  return pino({ name, level: config.log.level }, pino.destination({ fd: 2, sync: false }));
}
