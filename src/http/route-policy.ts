import type { ApiRole } from "../../config/schema.js";

/**
 * Who may call what: every route of the control plane, the roles any one of
 * which lets a token call it, and the rate limit it counts against. One table,
 * read before routing (auth.ts); a request that matches no entry is refused
 * with 404 when tokens are set, so a route added without an entry here is
 * unreachable rather than open (route-policy.test.ts checks the app's routes
 * against this table).
 *
 * Roles are flat: operator implies neither reader nor content. A token that
 * needs several gets several (`ragops token create --roles reader,operator`).
 * The one overlap is GET /v1/jobs/:id: content follows its uploads and
 * deletes there, operators their builds and evaluations.
 */
export type RateLimitKind = "search" | "upload";

export interface RoutePolicy {
  method: "GET" | "POST" | "PUT" | "DELETE" | "ALL";
  /** An Express path: literal segments and :params; with `prefix`, the path and everything under it. */
  path: string;
  /** "public": no token needed (the probes). Otherwise a token with any one of these roles. */
  roles: readonly ApiRole[] | "public";
  limit?: RateLimitKind;
  /** The entry covers its path and everything under it (a mounted app). */
  prefix?: boolean;
  /** A browser UI: Basic credentials (the password is the token) are taken too, from this server's own pages only. */
  browser?: boolean;
}

const CONTENT = ["content"] as const;
const OPERATOR = ["operator"] as const;

export const ROUTE_POLICIES: readonly RoutePolicy[] = [
  { method: "GET", path: "/healthz", roles: "public" },
  { method: "GET", path: "/readyz", roles: "public" },

  { method: "POST", path: "/v1/search", roles: ["reader"], limit: "search" },

  { method: "POST", path: "/v1/documents", roles: CONTENT, limit: "upload" },
  { method: "PUT", path: "/v1/documents/:id", roles: CONTENT, limit: "upload" },
  { method: "GET", path: "/v1/documents/:id", roles: CONTENT },
  { method: "GET", path: "/v1/documents/:id/chunks", roles: CONTENT },
  { method: "DELETE", path: "/v1/documents/:id", roles: CONTENT },
  { method: "GET", path: "/v1/jobs/:id", roles: ["content", "operator"] },
  { method: "GET", path: "/v1/failures", roles: ["content", "operator"] },
  { method: "POST", path: "/v1/failures/retry", roles: ["content", "operator"] },

  { method: "POST", path: "/v1/indexes", roles: OPERATOR },
  { method: "GET", path: "/v1/indexes", roles: OPERATOR },
  { method: "GET", path: "/v1/indexes/:version", roles: OPERATOR },
  { method: "POST", path: "/v1/indexes/:version/retire", roles: OPERATOR },
  { method: "POST", path: "/v1/indexes/:version/rebuild", roles: OPERATOR },
  { method: "POST", path: "/v1/indexes/:version/evaluations", roles: OPERATOR },
  { method: "GET", path: "/v1/aliases/live", roles: OPERATOR },
  { method: "POST", path: "/v1/aliases/live/swap", roles: OPERATOR },
  { method: "POST", path: "/v1/aliases/live/rollback", roles: OPERATOR },
  { method: "GET", path: "/v1/audit", roles: OPERATOR },
  { method: "POST", path: "/v1/golden-sets", roles: OPERATOR },
  { method: "GET", path: "/v1/golden-sets", roles: OPERATOR },
  { method: "GET", path: "/v1/golden-sets/:name", roles: OPERATOR },
  { method: "GET", path: "/v1/golden-sets/:name/versions/:version", roles: OPERATOR },
  { method: "GET", path: "/v1/evaluations/:id", roles: OPERATOR },
  { method: "GET", path: "/v1/evaluations/:id/run.txt", roles: OPERATOR },
  { method: "GET", path: "/v1/evaluations/:id/qrels.txt", roles: OPERATOR },
  { method: "POST", path: "/v1/reconcile", roles: OPERATOR },

  { method: "GET", path: "/metrics", roles: OPERATOR },
  { method: "ALL", path: "/admin/queues", roles: OPERATOR, prefix: true, browser: true },
];

/** Whether an Express route path (literal segments, :params) matches a request path, as a case-sensitive, strict router does. */
export function pathMatches(pattern: string, path: string, prefix = false): boolean {
  const want = pattern.split("/");
  const got = path.split("/");
  if (prefix ? got.length < want.length : got.length !== want.length) return false;
  // A prefix mount also answers its own path with a trailing slash ("/admin/queues/").
  return want.every((segment, i) => (segment.startsWith(":") ? (got[i] ?? "") !== "" : segment === got[i]));
}

/** The policy of a request; HEAD is GET's. Undefined: no route is there. */
export function policyFor(method: string, path: string, policies: readonly RoutePolicy[] = ROUTE_POLICIES): RoutePolicy | undefined {
  const verb = method === "HEAD" ? "GET" : method;
  return policies.find((p) => (p.method === "ALL" || p.method === verb) && pathMatches(p.path, path, p.prefix));
}

/** Whether roles a token holds let it through a policy. */
export function rolesAllow(policy: RoutePolicy, roles: readonly ApiRole[]): boolean {
  return policy.roles === "public" || policy.roles.some((role) => roles.includes(role));
}
