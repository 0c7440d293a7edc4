import { RagopsError, UnavailableError } from "../../core/errors.js";

/**
 * gRPC failures of the Vertex AI clients, read once for every Vertex adapter:
 * which ones an adapter retries itself, and which RagopsError each becomes
 * when it gives up (retryable or not, with what to do about it).
 */

/** gRPC status codes (https://grpc.io/docs/guides/status-codes/), by name. */
export const GrpcCode = {
  CANCELLED: 1,
  UNKNOWN: 2,
  INVALID_ARGUMENT: 3,
  DEADLINE_EXCEEDED: 4,
  NOT_FOUND: 5,
  ALREADY_EXISTS: 6,
  PERMISSION_DENIED: 7,
  RESOURCE_EXHAUSTED: 8,
  FAILED_PRECONDITION: 9,
  ABORTED: 10,
  UNIMPLEMENTED: 12,
  INTERNAL: 13,
  UNAVAILABLE: 14,
  UNAUTHENTICATED: 16,
} as const;

const NAMES = new Map<number, string>(Object.entries(GrpcCode).map(([name, code]) => [code, name]));

export interface GrpcFailure {
  code: number;
  /** The status name, e.g. RESOURCE_EXHAUSTED. */
  status: string;
  /** What the service said. */
  details: string;
}

/** The gRPC status of a client error, or undefined for an error that is not one (no credentials, a bug). */
export function grpcFailure(error: unknown): GrpcFailure | undefined {
  const { code, details } = (error ?? {}) as { code?: unknown; details?: unknown };
  if (typeof code !== "number" || !NAMES.has(code)) return undefined;
  return { code, status: NAMES.get(code) as string, details: typeof details === "string" && details ? details : error instanceof Error ? error.message : "" };
}

/** Failures an adapter retries with backoff: quota (rate limits), a busy or restarting backend, a deadline. */
const RETRIED = new Set<number>([GrpcCode.RESOURCE_EXHAUSTED, GrpcCode.UNAVAILABLE, GrpcCode.DEADLINE_EXCEEDED]);
/** Failures another job attempt may get past, though not worth an immediate retry. */
const TRANSIENT = new Set<number>([...RETRIED, GrpcCode.ABORTED, GrpcCode.INTERNAL, GrpcCode.UNKNOWN, GrpcCode.CANCELLED]);

export function isRetriedGrpcFailure(error: unknown): boolean {
  const failure = grpcFailure(error);
  return failure !== undefined && RETRIED.has(failure.code);
}

/**
 * The RagopsError for a Vertex call that failed for good. `what` says what was
 * being done ("embedding 12 texts with text-embedding-005"), `attempts` how
 * many times it was tried. INVALID_ARGUMENT is the caller's to explain (it knows
 * what it sent); here it is a plain non-retryable error. `advice` replaces what
 * the message says to do about a used-up quota or a resource not found (the
 * defaults speak of the embedder).
 */
export interface VertexAdvice {
  quota?: string;
  notFound?: string;
}

export function vertexError(error: unknown, what: string, attempts: number, advice: VertexAdvice = {}): RagopsError {
  const failure = grpcFailure(error);
  if (!failure) {
    const message = error instanceof Error ? error.message : String(error);
    const hint = /default credentials/i.test(message) ? ": no Application Default Credentials (run `gcloud auth application-default login`, or give the process a service account)" : "";
    return new RagopsError("internal", `Vertex AI ${what} failed: ${message}${hint}`, { cause: error });
  }
  const said = `${failure.status}: ${failure.details}`;
  const details = { grpcStatus: failure.status, attempts };
  if (RETRIED.has(failure.code)) {
    const quota = failure.code === GrpcCode.RESOURCE_EXHAUSTED ? `; the project's quota is used up: ${advice.quota ?? "lower embedder.vertex.requestConcurrency or queue.concurrency, or ask Google for more quota"}` : "";
    return new UnavailableError(`Vertex AI ${what} failed ${attempts} time(s) in a row (${said})${quota}`, { cause: error, details });
  }
  if (TRANSIENT.has(failure.code)) return new UnavailableError(`Vertex AI ${what} failed (${said})`, { cause: error, details });
  const hint =
    failure.code === GrpcCode.PERMISSION_DENIED || failure.code === GrpcCode.UNAUTHENTICATED
      ? ": the process's credentials (Application Default Credentials) need the role roles/aiplatform.user on the project"
      : failure.code === GrpcCode.NOT_FOUND
        ? `: ${advice.notFound ?? "check gcp.project, gcp.location and the model name (embedder.vertex.model)"}`
        : "";
  return new RagopsError("internal", `Vertex AI ${what} failed (${said})${hint}`, { cause: error, details });
}
