/**
 * Typed errors. Every error that can reach a user carries a stable code, an HTTP
 * status and a message that says what to do. `retryable` tells queue workers
 * whether another attempt can help (a corrupt document never gets better).
 */
const errorStatus = {
  invalid_request: 400,
  unknown_field: 400,
  invalid_key: 400,
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  request_timeout: 408,
  conflict: 409,
  payload_too_large: 413,
  unsupported_media_type: 415,
  unprocessable_document: 422,
  too_many_requests: 429,
  internal: 500,
  unavailable: 503,
} as const;

export type ErrorCode = keyof typeof errorStatus;

export interface RagopsErrorOptions {
  cause?: unknown;
  retryable?: boolean;
  details?: Record<string, unknown>;
}

export class RagopsError extends Error {
  readonly code: ErrorCode;
  readonly status: number;
  readonly retryable: boolean;
  readonly details: Record<string, unknown> | undefined;

  constructor(code: ErrorCode, message: string, options: RagopsErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.status = errorStatus[code];
    this.retryable = options.retryable ?? false;
    this.details = options.details;
  }
}

export class InvalidRequestError extends RagopsError {
  constructor(message: string, options?: RagopsErrorOptions) {
    super("invalid_request", message, options);
  }
}

export class UnknownFieldError extends RagopsError {
  constructor(readonly field: string, where: string) {
    super("unknown_field", `unknown field "${field}" in ${where}`, { details: { field } });
  }
}

export class InvalidKeyError extends RagopsError {
  constructor(key: string, reason: string) {
    super("invalid_key", `invalid key ${JSON.stringify(key)}: ${reason}`, { details: { key } });
  }
}

/** The request is refused whoever sends it this way (a cross-site request, a reserved name). */
export class ForbiddenError extends RagopsError {
  constructor(message: string, options?: RagopsErrorOptions) {
    super("forbidden", message, options);
  }
}

export class NotFoundError extends RagopsError {
  constructor(message: string) {
    super("not_found", message);
  }
}

/** A precondition (object generation, document version) did not hold. */
export class ConflictError extends RagopsError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("conflict", message, { details });
  }
}

export class PayloadTooLargeError extends RagopsError {
  constructor(limitBytes: number) {
    super("payload_too_large", `upload exceeds the limit of ${limitBytes} bytes (http.maxUploadBytes / RAGOPS_MAX_UPLOAD_BYTES)`, {
      details: { limitBytes },
    });
  }
}

export class UnsupportedMediaTypeError extends RagopsError {
  constructor(message: string) {
    super("unsupported_media_type", message);
  }
}

/** The document itself is unusable (empty, corrupt, no text). Retrying cannot help. */
export class UnprocessableDocumentError extends RagopsError {
  constructor(message: string, options?: RagopsErrorOptions) {
    super("unprocessable_document", message, options);
  }
}

/** This process is at its limit for this kind of request; the answer says when to try again (HTTP Retry-After). */
export class TooManyRequestsError extends RagopsError {
  constructor(
    message: string,
    /** Whole seconds, as Retry-After wants them. */
    readonly retryAfterSeconds: number,
    details?: Record<string, unknown>,
  ) {
    super("too_many_requests", message, { retryable: true, details: { ...details, retryAfterSeconds } });
  }
}

/** The client sent its request too slowly (an upload below http.minUploadBytesPerSecond). */
export class RequestTimeoutError extends RagopsError {
  constructor(message: string, details?: Record<string, unknown>) {
    super("request_timeout", message, { details });
  }
}

export class UnavailableError extends RagopsError {
  constructor(message: string, options?: RagopsErrorOptions) {
    super("unavailable", message, { retryable: true, ...options });
  }
}

export function isRagopsError(error: unknown): error is RagopsError {
  return error instanceof RagopsError;
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
