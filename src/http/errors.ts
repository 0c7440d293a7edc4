import type { ErrorRequestHandler, Response } from "express";
import type { z } from "zod";
import { InvalidRequestError, PayloadTooLargeError, RagopsError, UnknownFieldError, isRagopsError } from "../errors.js";
import type { Logger } from "../logger.js";

/** The one error shape: {"error": {"code", "message", "requestId", "details"?}}. */
export function sendError(res: Response, error: RagopsError): void {
  if (res.headersSent) return;
  res.status(error.status).json({
    error: { code: error.code, message: error.message, requestId: res.locals.requestId as string | undefined, ...(error.details ? { details: error.details } : {}) },
  });
}

export function errorMiddleware(logger: Logger): ErrorRequestHandler {
  return (error: unknown, req, res, _next) => {
    const known = toRagopsError(error);
    if (known.status >= 500) logger.error({ err: error, requestId: res.locals.requestId, path: req.path }, "request failed");
    else logger.debug({ code: known.code, message: known.message, path: req.path }, "request rejected");
    sendError(res, known);
  };
}

function toRagopsError(error: unknown): RagopsError {
  if (isRagopsError(error)) return error;
  const bodyParser = error as { type?: string; status?: number; message?: string };
  if (bodyParser?.type === "entity.parse.failed") return new InvalidRequestError(`request body is not valid JSON: ${bodyParser.message ?? ""}`.trim());
  if (bodyParser?.type === "entity.too.large") return new RagopsError("payload_too_large", "JSON body is too large");
  if (bodyParser?.status === 413) return new PayloadTooLargeError(0);
  return new RagopsError("internal", "internal error; the server log has the details", { cause: error });
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
