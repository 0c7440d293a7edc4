import { timingSafeEqual } from "node:crypto";
import type { RequestHandler } from "express";
import { ForbiddenError, InvalidRequestError, RagopsError } from "../../core/errors.js";
import { sendError } from "./errors.js";

/**
 * Who may call the control plane.
 *
 * With API tokens every request needs one, except exactly the probes
 * GET /healthz and GET /readyz. The check is on the request, not on a route
 * prefix, so no spelling of a path (case, percent-encoding, slashes, dot
 * segments) that a router might still match gets past it; `res.locals.actor`
 * is the token's name, what the audit log records.
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

export function authMiddleware(tokens: Record<string, string>): RequestHandler {
  const entries = Object.entries(tokens).map(([name, token]) => ({ name, token: Buffer.from(token) }));
  return (req, res, next) => {
    if (entries.length === 0) {
      try {
        res.locals.actor = actorFromHeader(req.headers["x-ragops-actor"]);
      } catch (error) {
        return sendError(res, error as RagopsError);
      }
      return next();
    }
    if (isPublicProbe(req.method, req.path)) return next();
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
export function sameSiteGuard(options: { tokens: Record<string, string>; configuredHost: string; allowedHosts: readonly string[] }): RequestHandler {
  const open = Object.keys(options.tokens).length === 0;
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
