import { randomUUID } from "node:crypto";
import type { RequestHandler } from "express";

const MAX_REQUEST_ID = 128;

/** The caller's x-request-id when it sends a usable one, else a fresh one; echoed back and put in every error body. */
export function requestIdMiddleware(): RequestHandler {
  return (req, res, next) => {
    const requestId = typeof req.headers["x-request-id"] === "string" && req.headers["x-request-id"].length <= MAX_REQUEST_ID ? req.headers["x-request-id"] : randomUUID();
    res.locals.requestId = requestId;
    res.setHeader("x-request-id", requestId);
    next();
  };
}
