import type { Request, RequestHandler, Response } from "express";
import { API_ROLES, type Config } from "../../config/schema.js";
import { ForbiddenError, InvalidRequestError, NotFoundError, RagopsError, isRagopsError } from "../../core/errors.js";
import type { Logger } from "../../core/logger.js";
import { sendError } from "./errors.js";
import { authBlockedError, type RateLimits } from "./rate-limits.js";
import { policyFor, rolesAllow, type RoutePolicy } from "./route-policy.js";
import { findToken, type ApiToken } from "./tokens.js";

/**
 * Who may call the control plane.
 *
 * With API tokens every request needs one, except exactly the probes
 * GET /healthz and GET /readyz, and the token needs a role the route's policy
 * names (route-policy.ts): 401 without a valid token, 403 with the wrong role.
 * The check is on the request, not on a route prefix, so no spelling of a path
 * (case, percent-encoding, slashes, dot segments) that a router might still
 * match gets past it, and a path with no policy is a 404 before any router
 * sees it; `res.locals.actor` is the token's name, what the audit log records.
 * Wrong tokens are counted per client address and refused with 429 past
 * limits.rate.authFailuresPerAddress, so tokens cannot be guessed.
 *
 * Without tokens the API is open for local use: the caller may name itself
 * with x-ragops-actor, and only requests addressed to this server and not sent
 * by a browser on behalf of another site are answered (see sameSiteGuard).
 */

const PROBES = new Set(["/healthz", "/readyz"]);

/** Only the exact probe paths are public; anything else, however spelled, is not. */
export function isPublicProbe(method: string, path: string): boolean {
  return (method === "GET" || method === "HEAD") && PROBES.has(path);
}

export interface AccessOptions {
  tokens: readonly ApiToken[];
  limits?: RateLimits;
  config: Config;
  logger?: Logger;
}

/** The credentials a request presents: a bearer token, or Basic (password = token) where a browser UI lives. */
function presentedToken(req: Request, policy: RoutePolicy | undefined): { token: string; basic: boolean } | undefined {
  const header = req.headers.authorization ?? "";
  const bearer = /^Bearer\s+(\S+)$/i.exec(header);
  if (bearer) return { token: bearer[1] as string, basic: false };
  const basic = policy?.browser ? /^Basic\s+([A-Za-z0-9+/=]+)$/i.exec(header) : null;
  if (!basic) return undefined;
  const decoded = Buffer.from(basic[1] as string, "base64").toString("utf8");
  const colon = decoded.indexOf(":");
  return colon < 0 ? undefined : { token: decoded.slice(colon + 1), basic: true };
}

function unauthorized(res: Response, policy: RoutePolicy | undefined, message: string): void {
  // A browser asks for credentials on a Basic challenge, and then sends them with every request of the page (bull-board's API calls).
  res.setHeader("www-authenticate", policy?.browser ? 'Basic realm="ragops", charset="UTF-8"' : 'Bearer realm="ragops"');
  sendError(res, new RagopsError("unauthorized", message));
}

/**
 * Authentication, roles and rate limits, by the route policy table
 * (route-policy.ts), before routing. `res.locals.actor` is who acts (the
 * token's name), `res.locals.roles` what it may do.
 */
export function accessMiddleware(options: AccessOptions): RequestHandler {
  const { tokens, limits, config } = options;
  const open = tokens.length === 0;
  const limit = async (policy: RoutePolicy | undefined, req: Request, token: string | undefined) => {
    if (policy?.limit && limits) await limits.consume(policy.limit, { token, address: clientAddress(req) });
  };
  return (req, res, next) => {
    const policy = policyFor(req.method, req.path);
    res.locals.route = policy?.path;
    const run = async (): Promise<void> => {
      if (open) {
        res.locals.actor = actorFromHeader(req.headers["x-ragops-actor"]);
        res.locals.roles = API_ROLES;
        await limit(policy, req, undefined);
        return next();
      }
      if (policy?.roles === "public" && isPublicProbe(req.method, req.path)) return next();
      const presented = presentedToken(req, policy);
      if (!presented) return unauthorized(res, policy, "this API needs a token: send 'Authorization: Bearer <token>' (tokens are made with `ragops token create` and configured in auth.tokens, auth.tokensFile or RAGOPS_API_TOKENS)");
      const address = clientAddress(req);
      const blocked = limits ? await limits.authBlocked(address) : undefined;
      if (blocked !== undefined) return sendError(res, authBlockedError(config, blocked));
      const found = findToken(tokens, presented.token);
      if (!found) {
        const nowBlocked = limits ? await limits.authFailed(address) : undefined;
        if (nowBlocked !== undefined) options.logger?.warn({ address, retryAfterSeconds: nowBlocked }, "too many wrong API tokens from one address: refusing its tokens until the window ends");
        return unauthorized(res, policy, "the API token is not valid");
      }
      res.locals.actor = found.name;
      res.locals.roles = found.roles;
      if (!policy) throw new NotFoundError(`no route ${req.method} ${req.path}`);
      if (!rolesAllow(policy, found.roles)) {
        const needed = policy.roles === "public" ? [] : policy.roles;
        throw new ForbiddenError(`token "${found.name}" has role ${found.roles.join(", ")}; ${req.method} ${policy.path} needs ${needed.join(" or ")} (a token gets roles when it is made: ragops token create --roles ${needed[0] ?? "operator"})`, {
          details: { token: found.name, roles: found.roles, needs: needed },
        });
      }
      // Basic credentials are cached and sent by the browser itself, so a page of another site could use them: only this server's own pages may.
      if (presented.basic && !originAllowed(req.headers.origin, req.headers.host, config.http.allowedHosts)) {
        throw new ForbiddenError(`refused: a cross-site request from Origin ${JSON.stringify(req.headers.origin)} with browser credentials`);
      }
      await limit(policy, req, found.name);
      next();
    };
    run().catch((error: unknown) => sendError(res, isRagopsError(error) ? error : new RagopsError("internal", "internal error; the server log has the details", { cause: error })));
  };
}

/** The address a request came from (Express's req.ip: the socket's peer unless "trust proxy" is set). */
export function clientAddress(req: Request): string {
  return req.ip ?? req.socket.remoteAddress ?? "unknown";
}

const ACTOR = /^[\w.@:-]{1,64}$/;
/** Names the server writes itself (system:bootstrap); no caller may claim one. */
const RESERVED_ACTOR = /^system:/i;

/**
 * The actor an open API's caller names with x-ragops-actor; "anonymous" when
 * it names none. A header that is present but unusable is refused rather than
 * recorded as "anonymous": the caller asked to be named in the audit log, and
 * a silent substitution would misattribute what it does.
 */
export function actorFromHeader(claimed: string | string[] | undefined): string {
  if (claimed === undefined) return "anonymous";
  const value = Array.isArray(claimed) ? claimed.join(", ") : claimed;
  if (!ACTOR.test(value)) {
    throw new InvalidRequestError(`invalid x-ragops-actor ${JSON.stringify(value.slice(0, 80))}: an actor is 1-64 letters, digits, '_', '.', '@', ':' or '-'`);
  }
  if (RESERVED_ACTOR.test(value)) {
    throw new InvalidRequestError(`invalid x-ragops-actor ${JSON.stringify(value)}: names in the "system:" namespace are reserved for the server's own actions`);
  }
  return value;
}

interface HostPort {
  hostname: string;
  port: number | undefined;
}

/** "name", "name:port", "[v6]" or "[v6]:port", lowercased; undefined when it is none of these. */
function parseHost(value: string): HostPort | undefined {
  const match = /^(\[[0-9a-f:.]+\]|[a-z0-9.-]+)(?::(\d{1,5}))?$/.exec(value.toLowerCase());
  if (!match) return undefined;
  return { hostname: match[1] as string, port: match[2] === undefined ? undefined : Number(match[2]) };
}

const LOOPBACK_NAMES = new Set(["localhost", "127.0.0.1", "[::1]"]);
const WILDCARDS = new Set(["0.0.0.0", "::", "[::]"]);

export interface HostPolicy {
  /** The address and port the connection arrived on (the bound address, or the interface a wildcard bind answered on). */
  localAddress: string | undefined;
  localPort: number | undefined;
  /** http.host as configured, when it is a name. */
  configuredHost: string;
  /** http.allowedHosts: "name" (any port) or "name:port". */
  allowedHosts: readonly string[];
}

/** As a Host header would write an address: IPv6 in brackets, IPv4-mapped IPv6 as plain IPv4. */
function addressAsHost(address: string): string {
  const plain = address.replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/i, "").toLowerCase();
  return plain.includes(":") ? `[${plain}]` : plain;
}

function inAllowedList(host: HostPort, effectivePort: number, allowedHosts: readonly string[]): boolean {
  return allowedHosts.some((entry) => {
    const allowed = parseHost(entry);
    return allowed !== undefined && allowed.hostname === host.hostname && (allowed.port === undefined || allowed.port === effectivePort);
  });
}

/**
 * Whether a Host header addresses this server: a loopback name, the address
 * the connection arrived on, or the configured host, on the port it arrived
 * on; or a name in http.allowedHosts. A name an attacker controls (DNS
 * rebinding points it at 127.0.0.1) is none of these.
 */
export function hostAllowed(hostHeader: string | undefined, policy: HostPolicy): boolean {
  const host = hostHeader === undefined ? undefined : parseHost(hostHeader);
  if (!host) return false;
  const port = host.port ?? 80;
  if (inAllowedList(host, port, policy.allowedHosts)) return true;
  if (port !== policy.localPort) return false;
  const own = new Set(LOOPBACK_NAMES);
  if (policy.localAddress) own.add(addressAsHost(policy.localAddress));
  // A wildcard bind (0.0.0.0, ::) is no name a client addresses; the interface it answered on is localAddress.
  if (!WILDCARDS.has(policy.configuredHost)) own.add(addressAsHost(policy.configuredHost));
  return own.has(host.hostname);
}

/**
 * Whether an Origin header is this server's own: absent (curl, scripts, Node),
 * the same host and port as the request's Host, or listed in http.allowedHosts.
 * "null" (sandboxed frames, file: pages) and every other site are foreign.
 */
export function originAllowed(origin: string | undefined, hostHeader: string | undefined, allowedHosts: readonly string[]): boolean {
  if (origin === undefined) return true;
  let url: URL;
  try {
    url = new URL(origin);
  } catch {
    return false;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") return false;
  const from = parseHost(url.host);
  const to = hostHeader === undefined ? undefined : parseHost(hostHeader);
  if (!from) return false;
  const fromPort = from.port ?? (url.protocol === "https:" ? 443 : 80);
  if (inAllowedList(from, fromPort, allowedHosts)) return true;
  return to !== undefined && from.hostname === to.hostname && fromPort === (to.port ?? 80);
}

const HOW_TO_ALLOW = "To call it under another name, add that name to http.allowedHosts; to open it beyond this machine, set API tokens (auth.tokens / RAGOPS_API_TOKENS).";

/**
 * In open mode (no tokens) a web page the operator visits could otherwise
 * drive the API: by a form POST from its own site (cross-site request) or by
 * pointing its own name at 127.0.0.1 (DNS rebinding). The first carries a
 * foreign Origin, the second a foreign Host; both are refused.
 *
 * With tokens neither check runs: a bearer token is never attached by the
 * browser on its own, so a page cannot use one it was not given, and we send
 * no CORS headers, so a browser will not even send a cross-site request that
 * carries one. Refusing a foreign Origin there would only break reverse
 * proxies that forward it.
 */
export function sameSiteGuard(options: { tokens: readonly ApiToken[]; configuredHost: string; allowedHosts: readonly string[] }): RequestHandler {
  const open = options.tokens.length === 0;
  return (req, res, next) => {
    if (!open) return next();
    const host = req.headers.host;
    const policy: HostPolicy = { localAddress: req.socket.localAddress, localPort: req.socket.localPort, configuredHost: options.configuredHost, allowedHosts: options.allowedHosts };
    if (!hostAllowed(host, policy)) {
      return sendError(
        res,
        new ForbiddenError(
          `refused: Host ${JSON.stringify(host ?? "")} is not this server. With no API tokens the control plane only answers requests addressed to localhost, 127.0.0.1, [::1] or its own address on port ${req.socket.localPort}, so that a web page cannot reach it by pointing a name of its own at this machine (DNS rebinding). ${HOW_TO_ALLOW}`,
        ),
      );
    }
    const origin = req.headers.origin;
    if (!originAllowed(origin, host, options.allowedHosts)) {
      return sendError(
        res,
        new ForbiddenError(
          `refused: a cross-site request from Origin ${JSON.stringify(origin)}. With no API tokens the control plane refuses requests a browser sends on behalf of another site, so that a web page cannot upload, delete or swap through it. Send the request without an Origin header (curl, scripts) or from this server's own origin. ${HOW_TO_ALLOW}`,
        ),
      );
    }
    next();
  };
}
