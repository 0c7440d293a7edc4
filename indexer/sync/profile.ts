import { createHash } from "node:crypto";
import type { Config } from "../../config/schema.js";

/**
 * A chunking profile: everything that decides which chunks a document becomes
 * and how they are deduplicated. Manifests and the chunk registry are kept per
 * profile, so an index version built with other chunking settings has its own.
 */
const PARSER_VERSION = 1;

export function profileKey(config: Pick<Config, "chunking" | "dedupe">): string {
  const shape = { parser: PARSER_VERSION, chunking: config.chunking, dedupe: config.dedupe };
  return `p${createHash("sha256").update(JSON.stringify(shape)).digest("hex").slice(0, 12)}`;
}

export function registryPrefix(redisPrefix: string, profile: string): string {
  return `${redisPrefix}:corpus:${profile}`;
}
