import { ConflictError, NotFoundError, RagopsError, UnavailableError, errorMessage, isRagopsError } from "../../core/errors.js";

/**
 * The one place GCS failures become our typed errors, so every caller of the
 * GCS store (and the GCS refresh source) sees the same kinds and messages:
 * 404 not found, 412 conflict, 401/403 a permission the process lacks (not
 * retryable: an operator must grant it), 408/429/5xx and network failures
 * unavailable (retryable).
 */
export type GcsOperation = "read" | "write" | "delete" | "list";

/** The IAM permission each operation needs; roles/storage.objectAdmin on the bucket holds them all. */
export const GCS_PERMISSIONS: Record<GcsOperation, string> = {
  read: "storage.objects.get",
  write: "storage.objects.create (and storage.objects.delete to replace an existing object)",
  delete: "storage.objects.delete",
  list: "storage.objects.list",
};

export interface GcsErrorContext {
  operation: GcsOperation;
  bucket: string;
  /** The object name in the bucket (the key under the store's prefix). */
  name?: string;
  /** The precondition the call carried, to say what did not hold. */
  ifGenerationMatch?: string | number;
}

const NETWORK_CODES = new Set(["ECONNREFUSED", "ECONNRESET", "ETIMEDOUT", "ENOTFOUND", "EAI_AGAIN", "EPIPE", "EHOSTUNREACH", "ENETUNREACH", "ECONNABORTED", "UND_ERR_SOCKET"]);

/** The HTTP status of a client error: ApiError has it as a numeric code, GaxiosError (resumable uploads) as status. */
function statusOf(error: unknown): number | undefined {
  if (typeof error !== "object" || error === null) return undefined;
  const { code, status, response } = error as { code?: unknown; status?: unknown; response?: { status?: unknown } };
  for (const candidate of [code, status, response?.status]) if (typeof candidate === "number") return candidate;
  return undefined;
}

function networkCodeOf(error: unknown): string | undefined {
  for (let e: unknown = error, depth = 0; typeof e === "object" && e !== null && depth < 4; e = (e as { cause?: unknown }).cause, depth += 1) {
    const code = (e as { code?: unknown; errno?: unknown }).code;
    if (typeof code === "string" && NETWORK_CODES.has(code)) return code;
  }
  return undefined;
}

export function gcsError(error: unknown, context: GcsErrorContext): unknown {
  if (isRagopsError(error)) return error;
  const where = context.name === undefined ? `gs://${context.bucket}` : `gs://${context.bucket}/${context.name}`;
  const status = statusOf(error);
  const message = errorMessage(error);
  if (status === 404 && /bucket does not exist/i.test(message)) {
    return new RagopsError("internal", `bucket gs://${context.bucket} does not exist: create it, or set gcp.bucket to an existing bucket`, { cause: error, details: { bucket: context.bucket } });
  }
  if (status === 404) return new NotFoundError(`object ${where} not found`);
  if (status === 412) {
    const expected = String(context.ifGenerationMatch);
    const wanted = expected === "0" ? "not to exist yet" : `to be at generation ${expected}`;
    return new ConflictError(`object ${where} changed: the ${context.operation} expected it ${wanted} (ifGenerationMatch=${expected}); read it again and retry`, {
      bucket: context.bucket,
      name: context.name,
      ifGenerationMatch: expected,
    });
  }
  if (status === 401 || status === 403) {
    const permission = GCS_PERMISSIONS[context.operation];
    const what =
      status === 401
        ? `Google Cloud refused the credentials for the ${context.operation} of ${where}: check Application Default Credentials (GOOGLE_APPLICATION_CREDENTIALS, gcloud auth application-default login, or the service account of the runtime)`
        : `the identity ragops runs as may not ${context.operation} ${where}: it needs ${permission} on bucket ${context.bucket} (roles/storage.objectAdmin on the bucket grants every permission ragops uses)`;
    return new RagopsError("internal", `${what}; GCS said: ${message}`, { cause: error, retryable: false, details: { bucket: context.bucket, permission, status } });
  }
  if (status !== undefined && (status === 408 || status === 429 || status >= 500)) {
    return new UnavailableError(`GCS answered ${status} to the ${context.operation} of ${where}; the call can be retried: ${message}`, { cause: error, details: { bucket: context.bucket, status } });
  }
  const network = networkCodeOf(error);
  if (network) return new UnavailableError(`cannot reach GCS for the ${context.operation} of ${where} (${network}); check the network or gcp.apiEndpoint, the call can be retried`, { cause: error, details: { bucket: context.bucket, code: network } });
  if (/Could not load the default credentials|Unable to detect a Project Id/i.test(message)) {
    return new RagopsError("internal", `no Google Cloud credentials for ${where}: set GOOGLE_APPLICATION_CREDENTIALS, run gcloud auth application-default login, or run with a service account (${message})`, { cause: error });
  }
  if ((error as { code?: unknown }).code === "FILE_NO_UPLOAD") {
    return new UnavailableError(`the upload to ${where} arrived corrupted (checksum mismatch) and was discarded; the call can be retried`, { cause: error });
  }
  return error;
}
