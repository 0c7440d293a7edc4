import { createHash, randomBytes, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";
import { parse as parseYaml } from "yaml";
import { ConfigError } from "../../config/load.js";
import { API_ROLES, tokenEntriesSchema, type ApiRole, type Config, type TokenEntry } from "../../config/schema.js";

/**
 * API tokens as the server holds them: a name, the roles, and the SHA-256
 * digest of the token, never the token itself.
 *
 * A fast hash is enough because `ragops token create` makes tokens of 256
 * random bits: nobody can search that space, fast hash or slow, and a slow
 * one (scrypt) would cost every request tens of milliseconds. What a slow hash
 * protects, guessable passwords, is not what a token is. A plain-text token
 * in config (deprecated) is hashed at start and compared the same way.
 */
export interface ApiToken {
  name: string;
  roles: readonly ApiRole[];
  digest: Buffer;
  /** Configured in plain text (deprecated): it holds every role. */
  plain: boolean;
}

export const TOKEN_PREFIX = "rgo_";

export function tokenDigest(token: string): Buffer {
  return createHash("sha256").update(token, "utf8").digest();
}

export function tokenHash(token: string): string {
  return `sha256:${tokenDigest(token).toString("hex")}`;
}

function toApiToken(name: string, entry: TokenEntry): ApiToken {
  if (typeof entry === "string") return { name, roles: API_ROLES, digest: tokenDigest(entry), plain: true };
  return { name, roles: entry.roles, digest: Buffer.from(entry.hash.slice("sha256:".length), "hex"), plain: false };
}

/** auth.tokens and the entries of auth.tokensFile; a name given twice, or a bad file, fails the start. */
export function loadApiTokens(auth: Config["auth"], readFile: (path: string) => string = (path) => readFileSync(path, "utf8")): ApiToken[] {
  const fromFile = auth.tokensFile ? readTokensFile(auth.tokensFile, readFile) : {};
  const twice = Object.keys(fromFile).filter((name) => name in auth.tokens);
  if (twice.length) throw new ConfigError(`API token ${twice.map((n) => JSON.stringify(n)).join(", ")} is both in auth.tokens and in ${auth.tokensFile}: give each token one name`, twice);
  return [...Object.entries(auth.tokens), ...Object.entries(fromFile)].map(([name, entry]) => toApiToken(name, entry));
}

function readTokensFile(path: string, readFile: (path: string) => string): Record<string, TokenEntry> {
  let text: string;
  try {
    text = readFile(path);
  } catch (error) {
    throw new ConfigError(`cannot read the API tokens file ${path} (auth.tokensFile): ${(error as Error).message}`, [`${path}: unreadable`]);
  }
  let value: unknown;
  try {
    // YAML is a superset of JSON: one parser reads both.
    value = parseYaml(text);
  } catch (error) {
    throw new ConfigError(`the API tokens file ${path} is not valid YAML or JSON: ${(error as Error).message}`, [`${path}: not YAML`]);
  }
  if (value === null || value === undefined) return {};
  const entries = typeof value === "object" && "tokens" in value ? (value as { tokens: unknown }).tokens : value;
  const parsed = tokenEntriesSchema.safeParse(entries ?? {});
  if (!parsed.success) {
    // Never echo a value: it may be a token.
    const problems = parsed.error.issues.map((issue) => `${path}: ${issue.path.map(String).join(".") || "(top level)"}: ${issue.message}`);
    throw new ConfigError(`invalid API tokens file:\n${problems.map((p) => `  - ${p}`).join("\n")}`, problems);
  }
  return parsed.data;
}

/**
 * The token a presented secret is, or undefined. Every entry is compared, in
 * constant time over digests of one length, so neither the answer's timing nor
 * which entry matched says anything about the configured tokens.
 */
export function findToken(tokens: readonly ApiToken[], presented: string): ApiToken | undefined {
  const digest = tokenDigest(presented);
  let found: ApiToken | undefined;
  for (const token of tokens) {
    if (timingSafeEqual(token.digest, digest) && !found) found = token;
  }
  return found;
}

/** A new token: 32 random bytes, base64url, with a prefix that secret scanners can look for. */
export function newToken(): { token: string; hash: string } {
  const token = `${TOKEN_PREFIX}${randomBytes(32).toString("base64url")}`;
  return { token, hash: tokenHash(token) };
}
