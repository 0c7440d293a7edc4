import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import type { z } from "zod";
import { configSchema, type Config, type PROFILES } from "./schema.js";

/** Environment variables that override the config file, and the config path each one sets. */
export const envBindings = [
  { env: "RAGOPS_PROFILE", path: ["profile"], type: "string" },
  { env: "RAGOPS_DATA_DIR", path: ["dataDir"], type: "string" },
  { env: "REDIS_URL", path: ["redis", "url"], type: "string" },
  { env: "RAGOPS_REDIS_PREFIX", path: ["redis", "prefix"], type: "string" },
  { env: "RAGOPS_HOST", path: ["http", "host"], type: "string" },
  { env: "RAGOPS_HTTP_PROCESSES", path: ["http", "processes"], type: "number" },
  { env: "PORT", path: ["http", "port"], type: "number" },
  { env: "RAGOPS_MAX_UPLOAD_BYTES", path: ["http", "maxUploadBytes"], type: "number" },
  { env: "RAGOPS_ALLOWED_HOSTS", path: ["http", "allowedHosts"], type: "list" },
  { env: "RAGOPS_CHUNK_SIZE_TOKENS", path: ["chunking", "sizeTokens"], type: "number" },
  { env: "RAGOPS_CHUNK_OVERLAP_RATIO", path: ["chunking", "overlapRatio"], type: "number" },
  { env: "RAGOPS_MIN_SECTION_TOKENS", path: ["chunking", "minSectionTokens"], type: "number" },
  { env: "RAGOPS_PARSE_TIMEOUT_MS", path: ["ingest", "parseTimeoutMs"], type: "number" },
  { env: "RAGOPS_NEAR_DUPLICATE_THRESHOLD", path: ["dedupe", "threshold"], type: "number" },
  { env: "RAGOPS_REFRESH_CRON", path: ["refresh", "cron"], type: "string" },
  { env: "RAGOPS_REFRESH_SOURCES", path: ["refresh", "sources"], type: "list" },
  { env: "RAGOPS_RECONCILE_CRON", path: ["reconcile", "cron"], type: "string" },
  { env: "RAGOPS_API_TOKENS", path: ["auth", "tokens"], type: "pairs" },
  { env: "RAGOPS_API_TOKENS_FILE", path: ["auth", "tokensFile"], type: "string" },
  { env: "RAGOPS_MAX_CONNECTIONS", path: ["http", "maxConnections"], type: "number" },
  { env: "RAGOPS_MAX_VERSIONS", path: ["limits", "maxVersions"], type: "number" },
  { env: "RAGOPS_MAX_QUEUED_BUILDS", path: ["limits", "maxQueuedBuilds"], type: "number" },
  { env: "RAGOPS_WORKER_METRICS_PORT", path: ["metrics", "workerPort"], type: "number" },
  { env: "RAGOPS_EMBEDDER", path: ["embedder", "provider"], type: "string" },
  { env: "RAGOPS_EMBED_DIMENSIONS", path: ["embedder", "dimensions"], type: "number" },
  { env: "RAGOPS_EMBED_BATCH_SIZE", path: ["embedder", "batchSize"], type: "number" },
  { env: "RAGOPS_VERTEX_MODEL", path: ["embedder", "vertex", "model"], type: "string" },
  { env: "VERTEX_PROJECT", path: ["gcp", "project"], type: "string" },
  { env: "VERTEX_LOCATION", path: ["gcp", "location"], type: "string" },
  { env: "VERTEX_API_ENDPOINT", path: ["gcp", "vertexApiEndpoint"], type: "string" },
  { env: "RAGOPS_RETRIEVAL_MODE", path: ["retrieval", "mode"], type: "string" },
  { env: "RAGOPS_INDEX_PROVIDER", path: ["index", "provider"], type: "string" },
  { env: "VERTEX_INDEX_ENDPOINT", path: ["gcp", "vectorSearch", "indexEndpoint"], type: "string" },
  { env: "RAGOPS_VERTEX_STAGING_URI", path: ["gcp", "vectorSearch", "stagingUri"], type: "string" },
  { env: "RAGOPS_VERTEX_MATCH_ENDPOINT", path: ["gcp", "vectorSearch", "matchApiEndpoint"], type: "string" },
  { env: "RAGOPS_INDEX_VERSION", path: ["index", "version"], type: "string" },
  { env: "RAGOPS_QUEUE_CONCURRENCY", path: ["queue", "concurrency"], type: "number" },
  { env: "RAGOPS_QUEUE_ATTEMPTS", path: ["queue", "attempts"], type: "number" },
  { env: "RAGOPS_LOG_LEVEL", path: ["log", "level"], type: "string" },
  { env: "RAGOPS_OBJECT_STORE", path: ["objectStore", "provider"], type: "string" },
  { env: "GCS_BUCKET", path: ["gcp", "bucket"], type: "string" },
  { env: "RAGOPS_GCS_PREFIX", path: ["gcp", "objectPrefix"], type: "string" },
  { env: "RAGOPS_GCS_ENDPOINT", path: ["gcp", "storageApiEndpoint"], type: "string" },
  { env: "RAGOPS_SIMULATE_EMBED_LATENCY_MS", path: ["simulate", "embedLatencyMs"], type: "number" },
  { env: "RAGOPS_SIMULATE_INDEX_WRITE_LATENCY_MS", path: ["simulate", "indexWriteLatencyMs"], type: "number" },
] as const;

const CONFIG_FILE_ENV = "RAGOPS_CONFIG";

type Profile = (typeof PROFILES)[number];

/**
 * What each profile (RAGOPS_PROFILE) changes of the schema's defaults. The gcp
 * profile moves the three stores ragops runs on to Google Cloud; the code
 * paths are the same ones a config naming each provider takes.
 */
export const PROFILE_DEFAULTS: Record<Profile, Json> = {
  local: {},
  gcp: { objectStore: { provider: "gcs" }, embedder: { provider: "vertex", dimensions: 768 }, index: { provider: "vertex" } },
};

/** A configuration that cannot be used. Its message names every bad setting and where it came from. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: string[],
  ) {
    super(message);
    this.name = "ConfigError";
  }
}

type Env = Record<string, string | undefined>;
type Json = Record<string, unknown>;

export interface LoadConfigOptions {
  env?: Env;
  /** Explicit config file; otherwise $RAGOPS_CONFIG when set. */
  file?: string;
  /** Values that win over file and environment (CLI flags, tests). */
  overrides?: Json;
}

export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const file = options.file ?? env[CONFIG_FILE_ENV];
  const fromFile = file ? readConfigFile(file) : {};
  const { values: fromEnv, sources } = readEnv(env);
  const explicit = deepMerge(deepMerge(fromFile, fromEnv), options.overrides ?? {});
  // A profile's defaults go under everything set explicitly; an unknown profile is left for the schema to report.
  const input = deepMerge(PROFILE_DEFAULTS[explicit.profile as Profile] ?? {}, explicit);
  const parsed = configSchema.safeParse(input);
  if (!parsed.success) {
    const problems = parsed.error.issues.map((issue) => describeIssue(issue, sources, file));
    throw new ConfigError(`invalid configuration:\n${problems.map((p) => `  - ${p}`).join("\n")}`, problems);
  }
  return { ...parsed.data, dataDir: resolve(parsed.data.dataDir) };
}

function readConfigFile(file: string): Json {
  let text: string;
  try {
    text = readFileSync(file, "utf8");
  } catch (error) {
    throw new ConfigError(`cannot read config file ${file}: ${(error as Error).message}`, [`${file}: unreadable`]);
  }
  try {
    const value: unknown = JSON.parse(text);
    if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("top level must be a JSON object");
    return value as Json;
  } catch (error) {
    throw new ConfigError(`config file ${file} is not valid JSON: ${(error as Error).message}`, [`${file}: not JSON`]);
  }
}

function readEnv(env: Env): { values: Json; sources: Map<string, string> } {
  const values: Json = {};
  const sources = new Map<string, string>();
  for (const binding of envBindings) {
    const raw = env[binding.env];
    if (raw === undefined || raw === "") continue;
    const value =
      binding.type === "number"
        ? parseNumber(raw)
        : binding.type === "list"
          ? raw.split(",").map((item) => item.trim()).filter(Boolean)
          : binding.type === "pairs"
            ? Object.fromEntries(raw.split(",").filter(Boolean).map((pair) => [pair.slice(0, pair.indexOf(":")).trim(), pair.slice(pair.indexOf(":") + 1).trim()]))
            : raw;
    setPath(values, binding.path, value);
    // Never echo secrets back in an error message.
    sources.set(binding.path.join("."), binding.type === "pairs" ? `${binding.env}=(hidden)` : `${binding.env}=${JSON.stringify(raw)}`);
  }
  return { values, sources };
}

/** Keeps a non-numeric string as it is, so the schema reports it with the variable's name. */
function parseNumber(raw: string): number | string {
  const trimmed = raw.trim();
  return /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(trimmed) ? Number(trimmed) : raw;
}

function describeIssue(issue: z.core.$ZodIssue, sources: Map<string, string>, file: string | undefined): string {
  const path = issue.path.map(String).join(".");
  const message = issue.code === "unrecognized_keys" ? `unknown setting(s) ${issue.keys.map((k) => `"${k}"`).join(", ")}` : issue.message;
  // A problem inside a value set from the environment (auth.tokens.alice) is that variable's.
  const bound = [...sources.keys()].find((key) => path === key || path.startsWith(`${key}.`));
  if (bound) return `${sources.get(bound)} (${path}): ${message}`;
  return `${file ? `${file}: ${path || "(top level)"}` : path || "(top level)"}: ${message}`;
}

function setPath(target: Json, path: readonly string[], value: unknown): void {
  let node = target;
  for (const segment of path.slice(0, -1)) {
    const next = node[segment];
    node = (typeof next === "object" && next !== null ? next : (node[segment] = {})) as Json;
  }
  node[path[path.length - 1] as string] = value;
}

function deepMerge(base: Json, over: Json): Json {
  const out: Json = { ...base };
  for (const [key, value] of Object.entries(over)) {
    const current = out[key];
    out[key] = isPlainObject(current) && isPlainObject(value) ? deepMerge(current, value) : value;
  }
  return out;
}

function isPlainObject(value: unknown): value is Json {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
