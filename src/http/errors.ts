import type { ErrorRequestHandler, Request, Response } from "express";
import type { z } from "zod";
import { InvalidRequestError, PayloadTooLargeError, RagopsError, TooManyRequestsError, UnknownFieldError, UnsupportedMediaTypeError, isRagopsError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";

/** The one error shape: {"error": {"code", "message", "requestId", "details"?}}. */
export function sendError(res: Response, error: RagopsError): void {
  if (res.headersSent) return;
  res.locals.errorCode = error.code;
  if (error instanceof TooManyRequestsError) res.set("Retry-After", String(error.retryAfterSeconds));
  res.status(error.status).json({
    error: { code: error.code, message: error.message, requestId: res.locals.requestId as string | undefined, ...(error.details ? { details: error.details } : {}) },
  });
}

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const known = toRagopsError(error, req);
    if (known.status >= 500) logger.error({ err: error, requestId: res.locals.requestId, path: req.path }, "request failed");
    else logger.debug({ code: known.code, message: known.message, path: req.path }, "request rejected");
    sendError(res, known);
  };
}

/** What express, its router and body-parser throw (http-errors): a status, and for body-parser a type. */
interface HttpError {
  status?: number;
  statusCode?: number;
  expose?: boolean;
  type?: string;
  message?: string;
  charset?: string;
  encoding?: string;
}

/**
 * Our errors as they are; the client-side errors of express, its router and
 * body-parser as 4xx with a message that says what to change. Anything else
 * is our bug: 500, and the log has it.
 */
function toRagopsError(error: unknown, req: Pick<Request, "headers">): RagopsError {
  if (isRagopsError(error)) return error;
  const http = (typeof error === "object" && error !== null ? error : {}) as HttpError;
  const status = http.status ?? http.statusCode;
  if (status === undefined || status < 400 || status >= 500) return new RagopsError("internal", "internal error; the server log has the details", { cause: error });
  const encoding = String(req.headers["content-encoding"] ?? "identity").toLowerCase();
  switch (http.type) {
    case "entity.parse.failed":
      return new InvalidRequestError(`request body is not valid JSON: ${http.message ?? ""}`.trim());
    case "entity.too.large":
      return new RagopsError("payload_too_large", "JSON body is too large");
    case "charset.unsupported":
      return new UnsupportedMediaTypeError(`request body charset ${JSON.stringify(http.charset?.toLowerCase() ?? "")} is not supported: send JSON in UTF-8 (Content-Type: application/json; charset=utf-8)`);
    case "encoding.unsupported":
      return new UnsupportedMediaTypeError(`Content-Encoding ${JSON.stringify(http.encoding ?? encoding)} is not supported: send the body uncompressed, or compressed with gzip, deflate or br`);
    case "request.aborted":
      return new InvalidRequestError("the request was aborted before its body arrived");
    case "request.size.invalid":
      return new InvalidRequestError("the request body's length does not match its Content-Length");
  }
  if (error instanceof URIError) {
    // The router's message is "Failed to decode param '<segment>'".
    const segment = /'(.*)'/.exec(http.message ?? "")?.[1] ?? "";
    return new InvalidRequestError(`path segment ${JSON.stringify(segment)} is not valid percent-encoding (write a literal '%' as %25)`);
  }
  if (status === 400 && encoding !== "identity") {
    // body-parser passes the decompressor's own error (zlib: "incorrect header check").
    return new InvalidRequestError(`request body could not be decoded as Content-Encoding ${JSON.stringify(encoding)}: ${http.message ?? "corrupt data"}`);
  }
  if (status === 413) return new PayloadTooLargeError(0);
  if (status === 415) return new UnsupportedMediaTypeError(http.message ?? "unsupported media type");
  return new InvalidRequestError(http.expose && http.message ? http.message : "the request is not valid");
}

/** Validates a JSON body; an unknown field is named, other problems say where and what. */
export function parseBody<S extends z.ZodType>(schema: S, body: unknown, where = "request body"): z.infer<S> {
  if (body === undefined || body === null || typeof body !== "object") {
    throw new InvalidRequestError(`${where} must be a JSON object (send Content-Type: application/json)`);
  }
  const parsed = schema.safeParse(body);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues;
  const unknown = issues.find((issue) => issue.code === "unrecognized_keys");
  if (unknown && unknown.code === "unrecognized_keys") throw new UnknownFieldError([...unknown.path.map(String), unknown.keys[0] ?? ""].join("."), where);
  const described = issues.map((issue) => `${issue.path.length ? issue.path.join(".") : where}: ${issue.message}${describeValue(valueAt(body, issue.path))}`);
  throw new InvalidRequestError(described.join("; "), { details: { issues: issues.map((i) => ({ path: i.path.map(String), message: i.message })) } });
}

function valueAt(body: unknown, path: readonly PropertyKey[]): unknown {
  let node = body;
  for (const segment of path) node = typeof node === "object" && node !== null ? (node as Record<PropertyKey, unknown>)[segment] : undefined;
  return node;
}

/** Echo short scalar values, so "invalid id" says which id. */
function describeValue(value: unknown): string {
  if (typeof value === "string" && value.length <= 120) return ` (got ${JSON.stringify(value)})`;
  if (typeof value === "number" || typeof value === "boolean") return ` (got ${String(value)})`;
  return "";
}
