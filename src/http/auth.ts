import { timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { RagopsError } from "../errors.js";
import { sendError } from "./errors.js";

/**
 * Bearer tokens by name. With tokens configured every /v1 request needs one,
 * and `res.locals.actor` is the token's name (what the audit log records).
 * Without tokens the API is open, for local use, and the caller may name
 * itself with x-ragops-actor.
 */
export function authMiddleware(tokens: Record<string, string>): RequestHandler {
  const entries = Object.entries(tokens).map(([name, token]) => ({ name, token: Buffer.from(token) }));
  return (req, res, next) => {
    if (!req.path.startsWith("/v1/")) return next();
    if (entries.length === 0) {
      const claimed = req.headers["x-ragops-actor"];
      res.locals.actor = typeof claimed === "string" && /^[\w.@:-]{1,64}$/.test(claimed) ? claimed : "anonymous";
      return next();
    }
    const match = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? "");
    const presented = match ? Buffer.from(match[1] as string) : undefined;
    const found = presented && entries.find((e) => e.token.length === presented.length && timingSafeEqual(e.token, presented));
    if (!found) {
      res.setHeader("www-authenticate", 'Bearer realm="ragops"');
      return sendError(res, new RagopsError("unauthorized", match ? "the API token is not valid" : "this API needs a token: send 'Authorization: Bearer <token>' (configured in auth.tokens / RAGOPS_API_TOKENS)"));
    }
    res.locals.actor = found.name;
    next();
  };
}
