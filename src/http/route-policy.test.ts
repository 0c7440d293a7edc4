import express, { type Express } from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { inject } from "vitest";
import { loadConfig } from "../../config/load.js";
import { createLogger } from "../../core/logger.js";
import { createIngestQueue } from "../queues/ingest-queue.js";
import type { Runtime } from "../runtime.js";
import { createApp } from "./app.js";
import { ROUTE_POLICIES, pathMatches, policyFor, rolesAllow } from "./route-policy.js";
import { strictRouter } from "./route.js";

interface Registered {
  method: string;
  path: string;
  /** An app mounted under path (bull-board): everything below it is its own. */
  mounted: boolean;
}

interface LayerLike {
  route?: { path: string; methods: Record<string, boolean> };
  handle?: { stack?: LayerLike[] };
  rawPath?: unknown;
  slash?: boolean;
}

/** Every route an Express app answers: its routers' routes, and the apps mounted under a path. */
function registeredRoutes(app: Express): Registered[] {
  const found: Registered[] = [];
  const walk = (stack: LayerLike[]) => {
    for (const layer of stack) {
      if (layer.route) {
        for (const method of Object.keys(layer.route.methods).filter((m) => m !== "_all")) found.push({ method: method.toUpperCase(), path: layer.route.path, mounted: false });
      } else if (!layer.slash && typeof layer.rawPath === "string") {
        found.push({ method: "ALL", path: layer.rawPath, mounted: true });
      } else if (layer.handle?.stack) {
        walk(layer.handle.stack);
      }
    }
  };
  walk((app.router as unknown as { stack: LayerLike[] }).stack);
  return found;
}

/** The registered routes the policy table has no entry for (the exact method and path pattern). */
function unpoliced(routes: Registered[]): Registered[] {
  return routes.filter((route) => !ROUTE_POLICIES.some((p) => p.path === route.path && (route.mounted ? p.prefix === true && p.method === "ALL" : p.method === route.method && !p.prefix)));
}

describe("the route policy table", () => {
  let app: Express;
  let runtime: Runtime;

  beforeAll(() => {
    const config = loadConfig({ env: {}, overrides: { redis: { url: inject("redisUrl"), prefix: "policytest" }, log: { level: "silent" } } });
    runtime = { config, logger: createLogger(config), queue: createIngestQueue(config), redis: {}, store: {}, catalog: {} } as unknown as Runtime;
    app = createApp(runtime);
  });

  afterAll(async () => {
    await (app.locals.closeLifecycle as () => Promise<void>)();
    await runtime.queue.close();
  });

  it("has an entry for every route the app registers, and only for those", () => {
    const routes = registeredRoutes(app);
    expect(routes.length).toBeGreaterThan(20);
    expect(unpoliced(routes)).toEqual([]);
    const stale = ROUTE_POLICIES.filter((p) => !routes.some((r) => r.path === p.path && (p.prefix ? r.mounted : r.method === p.method)));
    expect(stale).toEqual([]);
  });

  it("catches a route added without an entry", () => {
    const extra = express();
    const router = strictRouter();
    router.get("/v1/documents", (_req, res) => void res.end());
    router.post("/v1/search", (_req, res) => void res.end());
    extra.use(router);
    extra.use("/admin/other", express());
    expect(unpoliced(registeredRoutes(extra))).toEqual([
      { method: "GET", path: "/v1/documents", mounted: false },
      { method: "ALL", path: "/admin/other", mounted: true },
    ]);
  });

  it("finds a request's policy as a case-sensitive, strict router would match it", () => {
    expect(policyFor("GET", "/v1/documents/a.md")?.path).toBe("/v1/documents/:id");
    expect(policyFor("HEAD", "/v1/documents/a.md")?.path).toBe("/v1/documents/:id");
    expect(policyFor("GET", "/v1/documents/a.md/chunks")?.path).toBe("/v1/documents/:id/chunks");
    expect(policyFor("GET", "/v1/evaluations/e1/run.txt")?.path).toBe("/v1/evaluations/:id/run.txt");
    expect(policyFor("GET", "/admin/queues")?.path).toBe("/admin/queues");
    expect(policyFor("POST", "/admin/queues/api/queues/ingest/retry/failed")?.path).toBe("/admin/queues");
    for (const [method, path] of [
      ["GET", "/v1/documents/"],
      ["GET", "/v1/Documents/a"],
      ["GET", "/v1/documents/a/"],
      ["GET", "//v1/documents/a"],
      ["PATCH", "/v1/documents/a"],
      ["GET", "/admin/queuesx"],
      ["POST", "/v1/search/"],
      ["GET", "/metrics/"],
    ] as const) {
      expect(policyFor(method, path), `${method} ${path}`).toBeUndefined();
    }
    expect(pathMatches("/v1/jobs/:id", "/v1/jobs/")).toBe(false);
  });

  it("gives each role its part: reader searches, content owns documents, operator the lifecycle; jobs are content's and operator's", () => {
    const allowed = (method: string, path: string, role: "reader" | "content" | "operator") => {
      const policy = policyFor(method, path);
      return policy !== undefined && rolesAllow(policy, [role]);
    };
    expect(allowed("POST", "/v1/search", "reader")).toBe(true);
    expect(allowed("POST", "/v1/search", "operator")).toBe(false);
    expect(allowed("POST", "/v1/documents", "content")).toBe(true);
    expect(allowed("POST", "/v1/documents", "reader")).toBe(false);
    expect(allowed("GET", "/v1/jobs/build-v2-1", "operator")).toBe(true);
    expect(allowed("GET", "/v1/jobs/j1", "content")).toBe(true);
    expect(allowed("GET", "/v1/jobs/j1", "reader")).toBe(false);
    for (const [method, path] of [
      ["POST", "/v1/aliases/live/swap"],
      ["POST", "/v1/indexes"],
      ["POST", "/v1/golden-sets"],
      ["POST", "/v1/indexes/v2/evaluations"],
      ["GET", "/metrics"],
      ["GET", "/admin/queues"],
    ] as const) {
      expect(allowed(method, path, "operator"), path).toBe(true);
      expect(allowed(method, path, "content"), path).toBe(false);
      expect(allowed(method, path, "reader"), path).toBe(false);
    }
    expect(policyFor("GET", "/healthz")?.roles).toBe("public");
  });
});
