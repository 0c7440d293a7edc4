import { CronExpressionParser } from "cron-parser";
import { z } from "zod";
import { validateKey } from "../core/keys.js";

/**
 * Everything ragops can be told, with its default and unit. Parsed once at start
 * (see load.ts); the rest of the code trusts the typed result.
 */

const MiB = 1024 * 1024;

export const redisSchema = z.strictObject({
  url: z.url({ protocol: /^rediss?$/ }).default("redis://127.0.0.1:6379").describe("Redis connection URL (queues, locks, LSH buckets)."),
  prefix: z
    .string()
    .regex(/^(?:[A-Za-z0-9_-]{1,32}|\{[A-Za-z0-9_-]{1,32}\})$/, "letters, digits, '_' or '-' (1-32 characters), optionally in braces as a Redis Cluster hash tag ({ragops})")
    .default("ragops")
    .describe("Key prefix for every Redis key ragops writes, so several deployments can share one Redis. In braces ({ragops}) it is a hash tag: every key lands in one Redis Cluster slot, as BullMQ and ragops' scripts need."),
  requireNoEviction: z
    .boolean()
    .default(false)
    .describe("Refuse to start a worker (`ragops worker --strict` sets it) when Redis may evict keys (maxmemory-policy other than noeviction): queued jobs, leases and the chunk registry are data, not cache. Off: a loud warning at start."),
});

export const httpSchema = z.strictObject({
  host: z.string().min(1).default("127.0.0.1").describe("Interface the control plane listens on."),
  port: z.number().int().min(0).max(65535).default(8080).describe("HTTP port of the control plane (0 picks a free port)."),
  maxUploadBytes: z.number().int().positive().default(50 * MiB).describe("Largest accepted upload, bytes. Larger uploads get 413 while streaming."),
  shutdownGraceMs: z.number().int().min(0).default(10_000).describe("How long SIGTERM waits for in-flight requests, ms."),
  shutdownDrainMs: z
    .number()
    .int()
    .min(0)
    .max(600_000)
    .default(0)
    .describe(
      "After SIGTERM, how long the control plane keeps serving while GET /readyz answers 503 and every response closes its connection, so a load balancer stops sending it requests before it stops accepting them (connections it never accepted would be reset); ms. Set it to the balancer's readiness period (Kubernetes: periodSeconds x failureThreshold). 0: stop accepting at once.",
    ),
  processes: z
    .number()
    .int()
    .min(0)
    .max(64)
    .default(1)
    .describe("Control-plane processes sharing the port (Node's cluster); one event loop answers about a thousand hybrid searches a second on 11,000 chunks, so more processes serve more on more cores. 0: one per CPU core. Each holds its own in-memory snapshot of the versions it searches, and its own search.maxInFlight."),
  allowedHosts: z
    .array(z.string().regex(/^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9.-]+)(:\d{1,5})?$/, "a host is a name or address with an optional port, e.g. rag.internal or rag.internal:8080").transform((host) => host.toLowerCase()))
    .default([])
    .describe("With no API tokens, the names (name or name:port) requests may address the control plane by, besides localhost, 127.0.0.1, [::1] and the bound address on the bound port; other Host or Origin headers get 403 (DNS rebinding, cross-site requests)."),
  maxConnections: z.number().int().min(1).max(1_000_000).default(1_024).describe("Open connections the control plane holds at most (Node's server.maxConnections); a connection beyond them is closed at once and counted in ragops_http_connections_dropped_total."),
  minUploadBytesPerSecond: z
    .number()
    .int()
    .min(0)
    .default(1_024)
    .describe("Slowest an upload body may arrive, averaged over http.uploadRateWindowMs, bytes per second; a slower upload is cut off with 408 and its temp file removed (slow-body attacks hold a connection and a temp file each). 0: no minimum."),
  trustProxy: z
    .union([z.literal(false), z.number().int().min(1).max(10), z.string().min(1)], {
      error: "http.trustProxy is false, the number of proxy hops in front of the control plane (1 behind one load balancer), or the proxies' addresses or subnets (\"loopback\", \"10.0.0.0/8, 130.211.0.0/22\"); true is refused: it would trust an X-Forwarded-For any client writes",
    })
    .default(false)
    .describe(
      "Who may name the client's address in X-Forwarded-For (Express's \"trust proxy\"): false (default, the socket's peer is the client), the number of proxy hops in front (1 behind Cloud Run or one load balancer), or the proxies' addresses/subnets. Per-address rate limits and logs use that address; without it, every client behind a proxy shares the proxy's limit.",
    ),
  uploadRateWindowMs: z.number().int().min(50).max(600_000).default(30_000).describe("Window over which http.minUploadBytesPerSecond is measured, ms; time the server itself holds the upload back (a slow object store) does not count."),
});

/** Roles an API token may hold; each route needs one of them (src/http/route-policy.ts). */
export const API_ROLES = ["reader", "content", "operator"] as const;
export const apiRoleSchema = z.enum(API_ROLES);
export type ApiRole = z.infer<typeof apiRoleSchema>;

/** A token's name: what the audit log records as the actor. */
export const tokenNameSchema = z.string().regex(/^[\w.@-]{1,64}$/, "token names are 1-64 letters, digits, '_', '.', '@' or '-'");

/** sha256:<64 hex>: the digest of a token (tokens are 256 random bits, so a fast hash is enough; see src/http/tokens.ts). */
export const tokenHashSchema = z
  .string()
  .regex(/^sha256:[0-9a-f]{64}$/, 'a token hash is "sha256:" and 64 lowercase hex digits, as `ragops token create` prints it');

export const hashedTokenSchema = z.strictObject({
  hash: tokenHashSchema,
  roles: z.array(apiRoleSchema).min(1, "give the token at least one role (reader, content, operator)").refine((roles) => new Set(roles).size === roles.length, "list each role once"),
});
export type HashedToken = z.infer<typeof hashedTokenSchema>;

/** "sha256:<hex>:reader+content", the form RAGOPS_API_TOKENS can carry (commas separate tokens there). */
const ENV_HASHED_TOKEN = /^(sha256:[0-9a-f]{64}):([a-z+]+)$/;

/**
 * A token entry: {hash, roles}, its one-line form "sha256:<hex>:role+role", or
 * (deprecated) the token itself in plain text, which holds every role.
 */
export const tokenEntrySchema = z.preprocess(
  (value) => {
    const match = typeof value === "string" ? ENV_HASHED_TOKEN.exec(value) : null;
    return match ? { hash: match[1], roles: (match[2] as string).split("+").filter(Boolean) } : value;
  },
  z.union([z.string().min(16, "tokens must be at least 16 characters"), hashedTokenSchema]),
);
export type TokenEntry = z.infer<typeof tokenEntrySchema>;

export const tokenEntriesSchema = z.record(tokenNameSchema, tokenEntrySchema);

export const chunkingSchema = z
  .strictObject({
    sizeTokens: z.number().int().min(256).max(1024).default(512).describe("Chunk size, tokens (gpt-tokenizer, o200k_base encoding)."),
    overlapRatio: z.number().min(0.1).max(0.2).default(0.15).describe("Overlap between consecutive windows, as a fraction of sizeTokens."),
    minSectionTokens: z.number().int().min(0).max(256).default(64).describe("Sections smaller than this are joined to the next one under the same parent heading, tokens."),
  });

export const ingestSchema = z.strictObject({
  parseProcesses: z.number().int().min(0).max(64).default(0).describe("Parse processes per worker (each parses and chunks one document at a time); 0: one per CPU core. Never more than the worker's concurrency."),
  parseTimeoutMs: z.number().int().min(100).default(60_000).describe("Longest a document may take to parse before its job fails, ms."),
  parseMaxMemoryMb: z.number().int().min(64).default(1024).describe("Memory the parse of one document may add to its parse process, JS heap and buffers together (resident memory), MB; past it the document fails as expanding too far."),
  zipMaxEntries: z.number().int().min(1).default(5_000).describe("Most entries a DOCX (zip) may hold."),
  zipMaxUncompressedBytes: z.number().int().min(1024).default(200 * MiB).describe("Most bytes a DOCX may expand to when unzipped (zip-bomb guard)."),
});

export const dedupeSchema = z.strictObject({
  nearDuplicates: z.boolean().default(true).describe("Detect near-duplicate chunks (MinHash + LSH) and index each only once."),
  threshold: z.number().min(0.5).max(1).default(0.85).describe("Estimated Jaccard similarity of word shingles above which a chunk is a near-duplicate."),
  permutations: z.number().int().min(16).max(512).default(128).describe("MinHash permutations per chunk."),
  bands: z.number().int().min(1).max(128).default(16).describe("LSH bands (permutations / bands rows each); more bands find candidates at lower similarity."),
  shingleWords: z.number().int().min(1).max(10).default(3).describe("Words per shingle."),
});

export const syncSchema = z.strictObject({
  lockTtlMs: z.number().int().min(1_000).default(30_000).describe("Lease of the corpus lock that serialises registry and index writes, renewed while held, ms."),
  lockWaitMs: z.number().int().min(1_000).default(120_000).describe("Longest a job waits for the corpus lock before it fails and retries, ms."),
  buildConcurrency: z.number().int().min(1).max(64).default(8).describe("Documents a green build syncs at once (parsing, embedding and writing overlap; those ready together share a commit group)."),
  commitGroupMax: z.number().int().min(1).max(1_000).default(32).describe("Most documents of one worker process written under one corpus lease, with one index write per group."),
  onMissingRegistry: z
    .enum(["rebuild", "refuse"])
    .default("rebuild")
    .describe("When a worker finds a profile's chunk registry missing from Redis (no registry marker) while its manifests exist: 'rebuild' it from the manifests under the corpus lease before writing, or 'refuse' to write (jobs fail and retry) until `ragops registry rebuild` runs."),
});

export const refreshSchema = z.strictObject({
  cron: z
    .string()
    .refine((expression) => {
      try {
        CronExpressionParser.parse(expression);
        return true;
      } catch {
        return false;
      }
    }, "not a valid cron expression (e.g. \"0 2 * * *\" for 02:00 every day)")
    .optional()
    .describe("When the scheduled refresh runs (cron, server time); unset: no schedule."),
  sources: z.array(z.string().min(1)).default([]).describe("Folders (or GCS prefixes, gs://bucket/prefix) the scheduled refresh re-scans."),
});

export const reconcileSchema = z.strictObject({
  cron: z
    .string()
    .refine((expression) => {
      if (expression === "") return true;
      try {
        CronExpressionParser.parse(expression);
        return true;
      } catch {
        return false;
      }
    }, "not a valid cron expression (e.g. \"30 3 * * *\" for 03:30 every day), or \"\" for none")
    .default("")
    .describe("When every worker's scheduled reconcile runs (cron, server time; one run per tick across workers), logging its findings; \"\": no schedule."),
  repair: z.boolean().default(false).describe("Whether the scheduled reconcile repairs what it finds (as `ragops reconcile --repair`), or only logs it."),
});

export const authSchema = z.strictObject({
  tokens: tokenEntriesSchema
    .default({})
    .describe(
      "API tokens by name: {hash: \"sha256:<hex>\", roles: [\"reader\", \"content\"]} as `ragops token create` prints it (roles: reader, content, operator) (or \"sha256:<hex>:reader+content\" in RAGOPS_API_TOKENS). When any token is set, every request but GET /healthz and /readyz needs 'Authorization: Bearer <token>' with a role the route needs, and the audit log names the token. A plain-text token (deprecated) holds every role. Empty, with no auth.tokensFile: the API is open for local use (see http.allowedHosts).",
    ),
  tokensFile: z
    .string()
    .min(1)
    .optional()
    .describe("A secrets file (YAML or JSON) of more tokens in the same shape as auth.tokens, {name: {hash, roles}} (optionally under a top-level \"tokens\" key); read once at start, a bad entry fails the start."),
});

export const rateLimitSchema = z.strictObject({
  windowSeconds: z.number().int().min(1).max(86_400).default(60).describe("Window of every rate limit below, seconds: a caller past a limit gets 429 with Retry-After until its window ends."),
  searchPerToken: z.number().int().min(0).default(12_000).describe("Searches one API token may make per window (0: no limit)."),
  searchPerAddress: z.number().int().min(0).default(30_000).describe("Searches one client address may make per window, whatever token it uses (0: no limit)."),
  uploadsPerToken: z.number().int().min(0).default(600).describe("Uploads (POST /v1/documents, PUT /v1/documents/:id) one API token may make per window (0: no limit)."),
  uploadsPerAddress: z.number().int().min(0).default(1_200).describe("Uploads one client address may make per window (0: no limit)."),
  authFailuresPerAddress: z
    .number()
    .int()
    .min(0)
    .default(20)
    .describe("Requests with a wrong API token one client address may send per window; past them every request from it that presents a token gets 429 until the window ends, so tokens cannot be guessed (0: no limit). Requests that present no token are not counted."),
});

export const limitsSchema = z.strictObject({
  maxVersions: z.number().int().min(1).max(1_000).default(8).describe("Index versions that are not retired (each follows the corpus, so each costs index writes); creating one more is refused with 409 until one is retired."),
  maxQueuedBuilds: z.number().int().min(1).max(1_000).default(4).describe("Index builds waiting on the lifecycle queue (not yet running); creating a version beyond them is refused with 429."),
  rate: rateLimitSchema.prefault({}),
});

export const metricsSchema = z.strictObject({
  workerPort: z
    .number()
    .int()
    .min(0)
    .max(65535)
    .optional()
    .describe("Port on which `ragops worker` serves Prometheus metrics at GET /metrics (job durations, chunks embedded, index writes, failures); unset: none. Bound to metrics.workerHost."),
  workerHost: z.string().min(1).default("127.0.0.1").describe("Interface the worker's metrics port listens on."),
});

/**
 * Largest output of the Vertex AI embedding models ragops knows
 * (https://cloud.google.com/vertex-ai/generative-ai/docs/embeddings/get-text-embeddings);
 * another model is taken by name, and Vertex checks its dimensions.
 */
export const VERTEX_MODEL_DIMENSIONS: Readonly<Record<string, number>> = {
  "text-embedding-005": 768,
  "text-embedding-004": 768,
  "text-multilingual-embedding-002": 768,
  "gemini-embedding-001": 3072,
};

export const vertexEmbedderSchema = z.strictObject({
  model: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.@-]{0,127}$/, "a Vertex AI publisher model name, e.g. text-embedding-005 or gemini-embedding-001")
    .default("text-embedding-005")
    .describe("Vertex AI publisher model (provider 'vertex'): text-embedding-005, gemini-embedding-001 (one text per request), or another by name. Its version is part of the embedder's identity."),
  requestConcurrency: z.number().int().min(1).max(64).default(4).describe("Vertex requests one embedding call has in flight (a call's texts are split into requests of at most 250 texts, 1 for gemini-embedding-001)."),
  maxAttempts: z.number().int().min(1).max(20).default(5).describe("Attempts per Vertex request on RESOURCE_EXHAUSTED, UNAVAILABLE or DEADLINE_EXCEEDED, with jittered exponential backoff (1 s doubling, at most 30 s); then the job fails retryably."),
});

export const embedderSchema = z
  .strictObject({
    provider: z.enum(["offline", "vertex"]).default("offline").describe("Embedding provider. 'offline' is a deterministic lexical hashing embedder that needs no download; 'vertex' is Vertex AI text embeddings (embedder.vertex, gcp)."),
    dimensions: z.number().int().min(16).max(4096).default(384).describe("Vector dimensions (for Vertex, the outputDimensionality asked of the model)."),
    batchSize: z.number().int().min(1).max(1024).default(64).describe("Texts per embedding call."),
    concurrency: z.number().int().min(1).max(64).default(2).describe("Embedding calls one job runs at once."),
    vertex: vertexEmbedderSchema.prefault({}),
  })
  .superRefine((embedder, ctx) => {
    const max = VERTEX_MODEL_DIMENSIONS[embedder.vertex.model];
    if (embedder.provider === "vertex" && max !== undefined && embedder.dimensions > max) {
      ctx.addIssue({ code: "custom", path: ["dimensions"], message: `${embedder.vertex.model} makes at most ${max} dimensions` });
    }
  });

/** How an index version retrieves: dense (the embedder), text (BM25 over sparse vectors ragops computes), or both fused. */
export const RETRIEVAL_MODES = ["hybrid", "dense", "text"] as const;
export const retrievalModeSchema = z.enum(RETRIEVAL_MODES);
export type RetrievalMode = z.infer<typeof retrievalModeSchema>;

/** A chunk of sizeTokens tokens holds about this many BM25 terms per token (0.17-0.28 measured on the demo and shared corpora at 256-1024 tokens: stop words, punctuation and markup are not terms). */
export const TERMS_PER_TOKEN = 0.2;

/** How a hybrid version's dense and BM25 rankings become one (indexer/indexes/fusion.ts). */
export const FUSION_METHODS = ["relative-score", "rrf"] as const;
export const fusionMethodSchema = z.enum(FUSION_METHODS);
export type FusionMethod = z.infer<typeof fusionMethodSchema>;

export const retrievalSchema = z.strictObject({
  mode: retrievalModeSchema
    .default("hybrid")
    .describe("How a new index version retrieves: 'hybrid' fuses the embedder's ranking and BM25's (retrieval.fusion), 'dense' the embedder's only, 'text' BM25's only. Pinned in the version; 'hybrid' and 'text' versions hold a BM25 sparse vector per chunk."),
  fusion: fusionMethodSchema
    .default("relative-score")
    .describe(
      "How a hybrid version fuses its two rankings: 'relative-score' adds each side's scores min-max scaled over its candidates (Weaviate's relativeScoreFusion), 'rrf' adds weight / (k + rank). Both weigh the dense side by rrf.alpha and draw from rrf.candidates a side. Pinned in the version; versions created before this setting fuse by 'rrf'.",
    ),
  rrf: z
    .strictObject({
      k: z.number().int().min(1).max(1000).default(60).describe("Reciprocal rank fusion's rank constant (fusion 'rrf'): a chunk ranked r on one side adds weight / (k + r)."),
      alpha: z.number().min(0).max(1).default(0.5).describe("Weight of the dense side in the fusion, either method, 0-1 (Vertex AI Vector Search's rrf.alpha); BM25's side gets 1 - alpha."),
      candidates: z.number().int().min(1).max(10_000).default(100).describe("Chunks each side ranks before they are fused (at least 2 x the k asked for)."),
    })
    .prefault({}),
  bm25: z
    .strictObject({
      k1: z.number().min(0).max(10).default(1.2).describe("BM25 term frequency saturation."),
      b: z.number().min(0).max(1).default(0.75).describe("BM25 length normalisation, 0 (none) to 1 (full)."),
      avgdl: z
        .number()
        .positive()
        .max(1_000_000)
        .optional()
        .describe(`Chunk length, in BM25 terms, that b normalises to; unset: ${TERMS_PER_TOKEN} x chunking.sizeTokens, pinned when a version is created (a measured average would change every chunk's weights with each write).`),
    })
    .prefault({}),
});
export type RetrievalConfig = z.infer<typeof retrievalSchema>;

/** An index version's name, wherever one is given (config, API, CLI): it is part of object keys and table names. */
export const versionNameSchema = z.string().regex(/^[a-z0-9][a-z0-9-]{0,62}$/, "index versions are 1-63 lowercase letters, digits or '-'");

/** Results a search returns when it gives no k: the service's default, and each index version's own. */
export const defaultTopKSchema = z.number().int().min(1).max(100).default(5).describe("Results returned by search when k is not given.");

/** Why a default k cannot stand beside index.maxTopK (every search without k would be refused), or undefined when it can. */
export function defaultTopKProblem(defaultTopK: number, maxTopK: number): string | undefined {
  return defaultTopK > maxTopK ? `defaultTopK ${defaultTopK} must not exceed index.maxTopK (${maxTopK})` : undefined;
}

export const indexProviderSchema = z.enum(["lancedb", "vertex"]);

export const indexSchema = z.strictObject({
  provider: indexProviderSchema
    .default("lancedb")
    .describe("Vector index adapter of new index versions (each version keeps the one it was created with). 'lancedb' is embedded, on disk under dataDir; 'vertex' is Vertex AI Vector Search (gcp.vectorSearch): an index per version, deployed on one index endpoint."),
  version: versionNameSchema.default("v1").describe("Index version searched and written by default."),
  defaultTopK: defaultTopKSchema,
  maxTopK: z.number().int().min(1).max(1000).default(100).describe("Largest k a search may ask for."),
  rowLineage: z
    .boolean()
    .default(true)
    .describe(
      "Create new LanceDB tables with stable row ids, so LanceDB keeps each row's last-written version and a search during an ingest answers from the in-memory snapshot caught up with the rows written since (74.5 searches/s under bench:load instead of about 2). Applies to tables created after it is set; false: new tables without (searches during an ingest are answered by LanceDB).",
    ),
  memoryScanMaxRows: z
    .number()
    .int()
    .min(0)
    .max(10_000_000)
    .default(100_000)
    .describe("Largest LanceDB table searched from an exact in-memory snapshot (about 1.5 KB per row at 384 dimensions) instead of LanceDB's own flat scan; 0 turns it off."),
  annMinRows: z
    .number()
    .int()
    .min(0)
    .max(100_000_000)
    .default(20_000)
    .describe("Rows from which a LanceDB version gets an approximate (HNSW-SQ) vector index, built and kept current in the background by the worker; dense queries too costly for the exact snapshot use it. 0: never."),
  annEf: z.number().int().min(10).max(10_000).default(100).describe("HNSW search breadth of LanceDB ANN queries (at least 2 x k is used): higher is more recall, slower."),
  fullTextMinRows: z
    .number()
    .int()
    .min(0)
    .max(100_000_000)
    .default(20_000)
    .describe("Rows from which a LanceDB version holding sparse vectors (retrieval mode hybrid or text) gets a full-text index of their terms, built and kept current in the background by the worker; text questions past memoryScanMaxRows take their candidates from it and score them exactly. 0: never (such questions read every row holding a term)."),
});

export const searchSchema = z.strictObject({
  maxInFlight: z.number().int().min(1).max(1_024).default(8).describe("Searches one control-plane process runs at once; more wait in line (search.maxQueued)."),
  maxQueued: z
    .number()
    .int()
    .min(0)
    .max(100_000)
    .default(64)
    .describe("Searches one control-plane process keeps waiting for a place beyond search.maxInFlight; past them a search is answered 429 with Retry-After, so a burst costs bounded memory. 0: none wait."),
  aliasRecheckMs: z
    .number()
    .int()
    .min(0)
    .max(3_600_000)
    .default(5_000)
    .describe(
      "Longest a process answers searches from what it holds in memory, the alias and version records and which version of a LanceDB table is current, before reading them again (from the object store; a listing of the table's versions), ms. Changes made through ragops (a swap, a worker's write to a table) are announced in Redis and seen at the next search regardless; this bounds how long a missed announcement (Redis unreachable at that moment, a process killed between its commit and its announcement, an alias edited by hand) goes unseen. 0: read them on every search.",
    ),
});

export const queueSchema = z.strictObject({
  concurrency: z.number().int().min(1).max(64).default(8).describe("Jobs one worker process runs at once (parsing is bounded by ingest.parseProcesses; the rest of a job mostly waits on I/O)."),
  attempts: z.number().int().min(1).max(20).default(8).describe("Attempts per job for retryable failures (object store, Redis, index, embedder); with the backoff defaults the retries of one job span at least 60 s, so a storage outage of a minute fails nothing. Deterministic failures (a corrupt or unsupported file) are never retried."),
  backoffMs: z.number().int().min(0).default(2_000).describe("Ceiling of the first retry delay, ms; doubles on each retry up to backoffMaxMs. Each delay is drawn between half the ceiling and the ceiling (jitter), so jobs failed together do not come back together."),
  backoffMaxMs: z.number().int().min(0).default(30_000).describe("Largest ceiling of a retry delay, ms."),
  lockDurationMs: z.number().int().min(500).default(15_000).describe("How long a worker's claim on a job lasts without renewal (renewed every half of it); a killed worker's job is taken up again after it, ms."),
  stalledIntervalMs: z.number().int().min(500).default(5_000).describe("How often workers look for jobs whose worker died (claim expired), ms. A worker also takes up such jobs as it starts."),
  maxStalledCount: z.number().int().min(0).max(10).default(1).describe("Times a job may be interrupted (its worker died or lost its claim) and taken up again; one more and it fails, and its document, delete or build is marked failed with the reason."),
  keepCompleted: z.number().int().min(0).default(1_000).describe("Completed jobs kept for GET /v1/jobs/:id."),
  keepFailed: z.number().int().min(0).default(5_000).describe("Failed jobs kept, with their reasons."),
});

/** A metric's name as reports and the gate spell it: a measure with an optional cutoff. */
const METRIC_NAME_RULE = "metric names are lowercase words with an optional cutoff, e.g. ndcg@10, recall@100, hit@5, mrr, map, context_recall";
export const metricNameSchema = z.string().regex(/^[a-z][a-z_]*(@[1-9][0-9]*)?$/, METRIC_NAME_RULE);

const metricListSchema = z.array(metricNameSchema).refine((metrics) => new Set(metrics).size === metrics.length, "list each metric once");

/** When a candidate version's evaluation lets it be promoted. Every metric named here must be in the report's rows. */
export const gateSchema = z.strictObject({
  thresholds: z
    .record(metricNameSchema, z.number().min(0).max(1), { error: (issue) => (issue.code === "invalid_key" ? METRIC_NAME_RULE : undefined) })
    .default({ "ndcg@10": 0.3 })
    .describe("Absolute floors per metric: the candidate's mean over the golden set must be at least the value (metrics lie in [0, 1])."),
  nonRegression: z
    .strictObject({
      metrics: metricListSchema.default(["ndcg@10"]).describe("Metrics compared with live question by question (paired bootstrap CI of the mean difference green − live)."),
      tolerance: z.number().min(0).max(1).default(0.01).describe("Loss accepted: a metric fails when the upper bound of its CI of mean(green − live) is below −tolerance."),
      confidence: z.number().min(0.5).max(0.999).default(0.95).describe("Two-sided coverage of the paired CI."),
    })
    .prefault({}),
  tail: z
    .strictObject({
      metrics: metricListSchema.default(["ndcg@10"]).describe("Metrics whose per-question losses against live are counted."),
      delta: z.number().positive().max(1).default(0.2).describe("A question counts as a large loss when green scores more than delta below live on it."),
      maxShare: z.number().min(0).max(1).default(0.1).describe("Largest share of questions (0-1) allowed a large loss, so a flat mean cannot hide a few broken questions."),
    })
    .prefault({}),
});

/** Metrics a report holds per cutoff (`ndcg@10`), and without one. Kept in step with indexer/evaluation/run.ts. */
export const CUTOFF_METRICS = ["hit", "precision", "recall", "ndcg"] as const;
export const PLAIN_METRICS = ["mrr", "map", "rprec", "context_precision", "context_recall", "contained_context_precision", "contained_context_recall", "id_context_precision", "id_context_recall"] as const;

/** Gate metrics no report would hold (a typo, or a cutoff the reports do not compute): refused at start, not at the first evaluation. */
function gateMetricProblems(evaluation: { cutoffs: number[]; gate: z.infer<typeof gateSchema> }): { path: (string | number)[]; message: string }[] {
  const known = `known: ${CUTOFF_METRICS.map((m) => `${m}@k`).join(", ")} (k in evaluation.cutoffs), ${PLAIN_METRICS.join(", ")}`;
  const problem = (metric: string): string | undefined => {
    const [base, cutoff] = metric.split("@") as [string, string | undefined];
    if (cutoff === undefined) return (PLAIN_METRICS as readonly string[]).includes(base) ? undefined : `${metric} is not a metric reports hold (${known})`;
    if (!(CUTOFF_METRICS as readonly string[]).includes(base)) return `${metric} is not a metric reports hold (${known})`;
    return evaluation.cutoffs.includes(Number(cutoff)) ? undefined : `${metric} needs cutoff ${cutoff} in evaluation.cutoffs (${evaluation.cutoffs.join(", ")})`;
  };
  const { gate } = evaluation;
  const named: { path: (string | number)[]; metric: string }[] = [
    ...Object.keys(gate.thresholds).map((metric) => ({ path: ["thresholds", metric], metric })),
    ...gate.nonRegression.metrics.map((metric, i) => ({ path: ["nonRegression", "metrics", i], metric })),
    ...gate.tail.metrics.map((metric, i) => ({ path: ["tail", "metrics", i], metric })),
  ];
  return named.flatMap(({ path, metric }) => {
    const message = problem(metric);
    return message ? [{ path, message }] : [];
  });
}

export const evaluationSchema = z.strictObject({
  maxTopK: z.number().int().min(1).max(1000).default(1000).describe("Largest k an evaluation run may retrieve per question (public search stays capped by index.maxTopK)."),
  defaultK: z.number().int().min(1).max(1000).default(100).describe("Chunks retrieved per question when an evaluation names no k (at most maxTopK)."),
  cutoffs: z
    .array(z.number().int().min(1).max(1000))
    .min(1)
    .refine((ks) => new Set(ks).size === ks.length, "list each cutoff once")
    .default([1, 3, 5, 10])
    .describe("Cutoffs k of hit@k, precision@k, recall@k and ndcg@k in every report; the largest is also how many contexts the RAGAS context metrics read."),
  bootstrap: z
    .strictObject({
      resamples: z.number().int().min(100).max(100_000).default(2_000).describe("Bootstrap resamples per confidence interval (reports and the gate)."),
      seed: z.number().int().min(0).max(4_294_967_295).default(42).describe("Seed of the bootstrap, so a report's intervals and the gate's verdict are reproducible."),
    })
    .prefault({}),
  gate: gateSchema.prefault({}),
});

/** Latency added in front of the embedder and the index of every index version a process opens (indexer/simulated-latency.ts). */
export const simulateSchema = z.strictObject({
  embedLatencyMs: z.number().int().min(0).max(60_000).default(0).describe("For benchmarks and capacity tests: added to every embedder call, ms (0: off). A process logs a warning at start when it is on."),
  indexWriteLatencyMs: z.number().int().min(0).max(60_000).default(0).describe("For benchmarks and capacity tests: added to every index write (upsert, updateRestricts, remove), ms (0: off). A process logs a warning at start when it is on."),
});

/** A Vertex AI resource given by its full name or by its id alone (completed with gcp.project and gcp.location). */
const vertexResourceSchema = (collection: string) =>
  z.string().regex(new RegExp(`^(projects/[^/]+/locations/[^/]+/${collection}/)?[0-9A-Za-z_-]+$`), `a ${collection} resource name (projects/<project>/locations/<location>/${collection}/<id>) or its id`);

/** Vertex AI Vector Search (index.provider 'vertex'). */
export const vectorSearchSchema = z.strictObject({
  indexEndpoint: vertexResourceSchema("indexEndpoints")
    .optional()
    .describe("The index endpoint every Vertex index version is deployed on, each under its own deployedIndexId (made beforehand: gcloud ai index-endpoints create, public endpoint); required when a version uses Vertex."),
  matchApiEndpoint: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("Where findNeighbors and readIndexDatapoints go instead of the endpoint's public domain (read from the endpoint): a private endpoint's address (https://host:port), or an emulator (http://)."),
  deployedIndexPrefix: z
    .string()
    .regex(/^[A-Za-z][A-Za-z0-9_]{0,39}$/, "a letter, then letters, digits or '_' (at most 40): deployed index ids allow nothing else")
    .default("ragops")
    .describe("Deployed index ids are <prefix>_<version> ('-' written '_'), so several deployments can share one endpoint with prefixes of their own."),
  upsertBatchSize: z.number().int().min(1).max(1_000).default(100).describe("Datapoints per upsertDatapoints request (stream updates are limited per region by the MatchingEngineStreamUpdateThroughput quota)."),
  removeBatchSize: z.number().int().min(1).max(10_000).default(1_000).describe("Datapoint ids per removeDatapoints request."),
  readBatchSize: z.number().int().min(1).max(1_000).default(1_000).describe("Datapoint ids per readIndexDatapoints call (Vertex takes at most 1,000)."),
  requestConcurrency: z.number().int().min(1).max(64).default(4).describe("Vector Search requests one index call has in flight."),
  maxAttempts: z.number().int().min(1).max(20).default(5).describe("Attempts per Vector Search request on RESOURCE_EXHAUSTED, UNAVAILABLE or DEADLINE_EXCEEDED, with jittered exponential backoff (1 s doubling, at most 30 s); then the job fails retryably."),
  shardSize: z.enum(["SHARD_SIZE_SMALL", "SHARD_SIZE_MEDIUM", "SHARD_SIZE_LARGE"]).default("SHARD_SIZE_SMALL").describe("Shard size of new Vertex indexes (SMALL 2 GiB, MEDIUM 20 GiB, LARGE 50 GiB); it limits the machine types a deployment may use."),
  algorithm: z.enum(["treeAh", "bruteForce"]).default("treeAh").describe("Search algorithm of new Vertex indexes: treeAh (approximate, ScaNN) or bruteForce (exact, for small indexes and recall checks)."),
  approximateNeighborsCount: z.number().int().min(1).max(10_000).default(150).describe("Neighbours found approximately before exact reordering (tree-AH)."),
  leafNodeEmbeddingCount: z.number().int().min(1).default(1_000).describe("Vectors per leaf node (tree-AH)."),
  leafNodesToSearchPercent: z.number().int().min(1).max(100).default(10).describe("Leaf nodes searched per query, percent (tree-AH)."),
  machineType: z.string().min(1).default("e2-standard-2").describe("Machine type of each deployed index's replicas (e2-standard-2 serves SHARD_SIZE_SMALL)."),
  minReplicaCount: z.number().int().min(1).default(1).describe("Replicas a deployed index keeps at least."),
  maxReplicaCount: z.number().int().min(1).default(1).describe("Replicas a deployed index scales up to."),
  operationPollMs: z.number().int().min(1).default(5_000).describe("First wait between two polls of a long-running operation (create index, deploy, batch update, undeploy, delete), ms; grows by half each poll."),
  operationPollMaxMs: z.number().int().min(1).default(60_000).describe("Longest wait between two polls of a long-running operation, ms."),
  stagingUri: z
    .string()
    .regex(/^gs:\/\/[a-z0-9][a-z0-9._-]{1,61}[a-z0-9](\/[^\s]*)?$/, "a GCS directory, gs://bucket/path")
    .optional()
    .describe("GCS directory a batch rebuild writes its input files under (a directory per rebuild), for updateIndex contentsDeltaUri."),
  hybridFusion: z
    .enum(["ragops", "vertex"])
    .default("ragops")
    .describe("Who fuses a hybrid query on Vertex: 'ragops' asks the dense and the sparse ranking in one findNeighbors call and fuses them as the version pins (retrieval.fusion and rrf), as LanceDB does; 'vertex' sends one query with rrf.alpha and Vertex fuses (its own rank constant and depth, scores by position): versions fusing by rrf only, as Vertex fuses by rank."),
  batchFileVectors: z.number().int().min(1).default(10_000).describe("Vectors per JSON Lines file of a batch rebuild (more when the version has over 5,000 files' worth)."),
});

/** Google Cloud: the project, region and bucket the GCS (and Vertex) adapters use. Nothing here is read unless a provider selects it. */
export const gcpSchema = z.strictObject({
  project: z
    .string()
    .regex(/^([a-z0-9.-]+:)?[a-z][a-z0-9-]{4,28}[a-z0-9]$/, "a project id is 6-30 lowercase letters, digits or '-' (domain-scoped: example.com:my-project)")
    .optional()
    .describe("Google Cloud project id; unset: the one Application Default Credentials name."),
  location: z.string().regex(/^[a-z]+(-[a-z0-9]+)*$/, "a Google Cloud location, e.g. us-central1").default("us-central1").describe("Region of the Google Cloud resources ragops uses (Vertex AI)."),
  vertexApiEndpoint: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("Vertex AI endpoint instead of <location>-aiplatform.googleapis.com: http://host:port is an emulator (no TLS, no credentials), https://host[:port] another endpoint with TLS and Application Default Credentials."),
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9._-]{1,61}[a-z0-9]$/, "a GCS bucket name is 3-63 lowercase letters, digits, '-', '_' or '.', starting and ending with a letter or digit")
    .optional()
    .describe("GCS bucket of the object store when objectStore.provider is 'gcs'."),
  objectPrefix: z
    .string()
    .refine((prefix) => {
      try {
        return prefix === "" || validateKey(prefix.replace(/\/$/, "")) !== "";
      } catch {
        return false;
      }
    }, "a path like ragops/prod: '/'-separated names, no leading '/', no empty, '.' or '..' segments")
    .default("")
    .describe("Put before the name of every object ragops writes in the bucket (ragops/prod), so several deployments can share one bucket."),
  storageApiEndpoint: z
    .url({ protocol: /^https?$/ })
    .optional()
    .describe("GCS JSON API endpoint for an emulator (http://127.0.0.1:4443); no credentials are sent to it. Unset: Google's, with Application Default Credentials."),
  resumableUploadMinBytes: z.number().int().min(1).default(8 * MiB).describe("Objects of at least this size go to GCS by resumable upload, in chunks; smaller ones in one request, bytes."),
  uploadChunkBytes: z
    .number()
    .int()
    .min(0)
    .refine((bytes) => bytes % (256 * 1024) === 0, "must be a multiple of 262144 (256 KiB), as GCS requires, or 0")
    .default(8 * MiB)
    .describe("Bytes per request of a resumable upload (a multiple of 256 KiB, as GCS requires); 0 streams the whole object in one request, bytes."),
  vectorSearch: vectorSearchSchema.prefault({}),
});

export const objectStoreSchema = z.strictObject({
  provider: z
    .enum(["local", "gcs"])
    .default("local")
    .describe("Where objects (uploads, records, manifests, embeddings, aliases) live: 'local' is a directory under dataDir; 'gcs' is gcp.bucket, under gcp.objectPrefix."),
});

export const logSchema = z.strictObject({
  level: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info").describe("Log level."),
});

/** Deployment profiles: named sets of defaults under the file and the environment (config/load.ts applies them). */
export const PROFILES = ["local", "gcp"] as const;

export const configSchema = z
  .strictObject({
    profile: z
      .enum(PROFILES)
      .default("local")
      .describe("Defaults for a kind of deployment, under anything set explicitly: 'local' (a directory, the offline embedder, LanceDB); 'gcp' selects the GCS object store (gcp.bucket), the Vertex embedder (768 dimensions) and Vertex AI Vector Search for new versions (gcp.project, gcp.location, gcp.vectorSearch.indexEndpoint; the *ApiEndpoint settings point it at emulators)."),
    dataDir: z.string().min(1).default(".ragops-data").describe("Directory for the local object store, LanceDB tables and the demo's Redis."),
    redis: redisSchema.prefault({}),
    http: httpSchema.prefault({}),
    chunking: chunkingSchema.prefault({}),
    ingest: ingestSchema.prefault({}),
    dedupe: dedupeSchema.prefault({}),
    sync: syncSchema.prefault({}),
    refresh: refreshSchema.prefault({}),
    reconcile: reconcileSchema.prefault({}),
    auth: authSchema.prefault({}),
    limits: limitsSchema.prefault({}),
    metrics: metricsSchema.prefault({}),
    embedder: embedderSchema.prefault({}),
    retrieval: retrievalSchema.prefault({}),
    index: indexSchema.prefault({}),
    search: searchSchema.prefault({}),
    queue: queueSchema.prefault({}),
    log: logSchema.prefault({}),
    objectStore: objectStoreSchema.prefault({}),
    gcp: gcpSchema.prefault({}),
    evaluation: evaluationSchema.prefault({}),
    simulate: simulateSchema.prefault({}),
  })
  .superRefine((config, ctx) => {
    // The limit stops documents that balloon while parsing; one allocation larger than the whole limit would abort the process instead.
    const minParseMb = 64 + Math.ceil((4 * config.http.maxUploadBytes) / MiB);
    if (config.ingest.parseMaxMemoryMb < minParseMb) {
      ctx.addIssue({ code: "custom", path: ["ingest", "parseMaxMemoryMb"], message: `must be at least ${minParseMb} (64 + 4 x http.maxUploadBytes in MB) so the largest upload can be decoded within it` });
    }
    if (config.objectStore.provider === "gcs" && !config.gcp.bucket) {
      ctx.addIssue({ code: "custom", path: ["gcp", "bucket"], message: "objectStore.provider 'gcs' needs a bucket: set gcp.bucket (GCS_BUCKET)" });
    }
    if (config.refresh.cron && config.refresh.sources.length === 0) {
      ctx.addIssue({ code: "custom", path: ["refresh", "sources"], message: "a refresh.cron needs at least one folder in refresh.sources" });
    }
    if (config.dedupe.permutations % config.dedupe.bands !== 0) {
      ctx.addIssue({ code: "custom", path: ["dedupe", "bands"], message: `must divide dedupe.permutations (${config.dedupe.permutations})` });
    }
    for (const problem of gateMetricProblems(config.evaluation)) ctx.addIssue({ code: "custom", path: ["evaluation", "gate", ...problem.path], message: problem.message });
    if (config.evaluation.defaultK > config.evaluation.maxTopK) ctx.addIssue({ code: "custom", path: ["evaluation", "defaultK"], message: `must be at most evaluation.maxTopK (${config.evaluation.maxTopK})` });
    if (config.index.provider === "vertex") {
      if (!config.gcp.project) ctx.addIssue({ code: "custom", path: ["gcp", "project"], message: "index.provider 'vertex' needs a Google Cloud project (VERTEX_PROJECT)" });
      if (!config.gcp.vectorSearch.indexEndpoint) ctx.addIssue({ code: "custom", path: ["gcp", "vectorSearch", "indexEndpoint"], message: "index.provider 'vertex' needs the index endpoint versions are deployed on (VERTEX_INDEX_ENDPOINT)" });
    }
    if (config.gcp.vectorSearch.minReplicaCount > config.gcp.vectorSearch.maxReplicaCount) {
      ctx.addIssue({ code: "custom", path: ["gcp", "vectorSearch", "maxReplicaCount"], message: `must be at least gcp.vectorSearch.minReplicaCount (${config.gcp.vectorSearch.minReplicaCount})` });
    }
    if (config.embedder.provider === "vertex" && !config.gcp.project) {
      ctx.addIssue({ code: "custom", path: ["gcp", "project"], message: "the vertex embedder needs a Google Cloud project (VERTEX_PROJECT)" });
    }
    const topKProblem = defaultTopKProblem(config.index.defaultTopK, config.index.maxTopK);
    if (topKProblem) ctx.addIssue({ code: "custom", path: ["index", "defaultTopK"], message: topKProblem });
  });

export type Config = z.infer<typeof configSchema>;
export type ChunkingConfig = Config["chunking"];
export type EmbedderConfig = Config["embedder"];
export type IndexConfig = Config["index"];
export type IndexProvider = z.infer<typeof indexProviderSchema>;
export type EvaluationConfig = Config["evaluation"];
export type GcpConfig = Config["gcp"];
export type VectorSearchConfig = GcpConfig["vectorSearch"];
export type GateConfig = EvaluationConfig["gate"];
export type BootstrapConfig = EvaluationConfig["bootstrap"];
