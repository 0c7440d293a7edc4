import { pino, type Logger } from "pino";
import type { Config } from "../config/schema.js";

export type { Logger } from "pino";

/** JSON logs on stderr, so stdout stays free for the CLI's tables. */
export function createLogger(config: Pick<Config, "log">, name = "ragops"): Logger {
  return pino({ name, level: config.log.level }, pino.destination({ fd: 2, sync: false }));
}
