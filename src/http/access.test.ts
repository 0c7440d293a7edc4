import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express from "express";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/load.js";
import { createLogger } from "../../core/logger.js";
import { accessMiddleware } from "./auth.js";
import { errorMiddleware } from "./errors.js";
import { requestIdMiddleware } from "./request-id.js";
import { loadApiTokens, newToken } from "./tokens.js";

/** An app whose every route answers who called it, behind the access checks of the given tokens. */
async function appWith(tokens: Record<string, unknown>): Promise<{ url: string; server: Server }> {
  const config = loadConfig({ env: {}, overrides: { auth: { tokens }, log: { level: "silent" } } });
  const app = express();
  app.use(requestIdMiddleware());
  app.use(accessMiddleware({ tokens: loadApiTokens(config.auth), config }));
  app.use((_req, res) => void res.json({ actor: res.locals.actor, roles: res.locals.roles }));
  app.use(errorMiddleware(createLogger(config)));
  const server = app.listen(0, "127.0.0.1");
  await new Promise((resolve) => server.once("listening", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

describe("access by role", () => {
  const reader = newToken();
  const operator = newToken();
  const both = newToken();
  let url: string;
  let server: Server;

  beforeAll(async () => {
    ({ url, server } = await appWith({
      "search-app": { hash: reader.hash, roles: ["reader"] },
      ops: { hash: operator.hash, roles: ["operator"] },
      carol: { hash: both.hash, roles: ["content", "operator"] },
      legacy: "legacy-plain-token-0123",
    }));
  });

  afterAll(() => server.close());

  const call = (method: string, path: string, headers: Record<string, string> = {}) => fetch(`${url}${path}`, { method, headers });
  const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

  it("answers 401 with a challenge without a token or with a wrong one", async () => {
    for (const headers of [{}, bearer("rgo_wrong"), bearer(reader.hash), { authorization: `Basic ${Buffer.from(`x:${reader.token}`).toString("base64")}` }]) {
      const response = await call("POST", "/v1/search", headers);
      expect(response.status).toBe(401);
      expect(response.headers.get("www-authenticate")).toBe('Bearer realm="ragops"');
      expect(((await response.json()) as { error: { code: string } }).error.code).toBe("unauthorized");
    }
  });

  it("answers 403 naming the roles needed when the token lacks them, and lets the right role through as the token's name", async () => {
    const refused = await call("POST", "/v1/documents", bearer(reader.token));
    expect(refused.status).toBe(403);
    const body = (await refused.json()) as { error: { message: string; details: unknown } };
    expect(body.error.message).toMatch(/token "search-app" has role reader; POST \/v1\/documents needs content/);
    expect(body.error.details).toEqual({ token: "search-app", roles: ["reader"], needs: ["content"] });
    expect((await call("POST", "/v1/aliases/live/swap", bearer(reader.token))).status).toBe(403);
    expect((await call("POST", "/v1/search", bearer(operator.token))).status).toBe(403);

    const searched = await call("POST", "/v1/search", bearer(reader.token));
    expect(searched.status).toBe(200);
    expect(await searched.json()).toEqual({ actor: "search-app", roles: ["reader"] });
    expect((await call("POST", "/v1/aliases/live/swap", bearer(operator.token))).status).toBe(200);
    expect((await call("GET", "/v1/jobs/build-v2-x", bearer(operator.token))).status).toBe(200);
    expect((await call("DELETE", "/v1/documents/a", bearer(both.token))).status).toBe(200);
    expect((await call("POST", "/v1/search", bearer(both.token))).status).toBe(403);
  });

  it("lets a plain-text (deprecated) token do everything", async () => {
    for (const [method, path] of [["POST", "/v1/search"], ["POST", "/v1/documents"], ["POST", "/v1/indexes"], ["GET", "/metrics"]] as const) {
      expect((await call(method, path, bearer("legacy-plain-token-0123"))).status, path).toBe(200);
    }
  });

  it("answers 404 to a valid token on a path no policy names, before any router", async () => {
    const response = await call("GET", "/v1/secret-new-route", bearer(operator.token));
    expect(response.status).toBe(404);
    expect((await call("GET", "/v1/secret-new-route")).status).toBe(401);
  });

  it("keeps the probes public", async () => {
    expect((await call("GET", "/healthz")).status).toBe(200);
    expect((await call("GET", "/readyz")).status).toBe(200);
  });

  it("takes Basic credentials (password = token) on the queues UI only, asks a browser for them there, and refuses them cross-site", async () => {
    const basic = (token: string) => ({ authorization: `Basic ${Buffer.from(`anyone:${token}`).toString("base64")}` });
    const challenge = await call("GET", "/admin/queues");
    expect(challenge.status).toBe(401);
    expect(challenge.headers.get("www-authenticate")).toMatch(/^Basic realm="ragops"/);
    expect((await call("GET", "/admin/queues", basic(operator.token))).status).toBe(200);
    expect((await call("GET", "/admin/queues/api/queues", basic(reader.token))).status).toBe(403);
    expect((await call("PUT", "/admin/queues/api/queues/ingest/pause", { ...basic(operator.token), origin: "http://evil.example" })).status).toBe(403);
    expect((await call("PUT", "/admin/queues/api/queues/ingest/pause", { ...bearer(operator.token), origin: "http://evil.example" })).status).toBe(200);
    expect((await call("GET", "/metrics", basic(operator.token))).status).toBe(401);
  });
});

describe("open mode (no tokens)", () => {
  it("lets every caller do everything, named by x-ragops-actor", async () => {
    const { url, server } = await appWith({});
    try {
      const response = await fetch(`${url}/v1/aliases/live/swap`, { method: "POST", headers: { "x-ragops-actor": "ops" } });
      expect(response.status).toBe(200);
      expect(await response.json()).toEqual({ actor: "ops", roles: ["reader", "content", "operator"] });
    } finally {
      server.close();
    }
  });
});
