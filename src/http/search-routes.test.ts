import type { AddressInfo } from "node:net";
import express from "express";
import { afterEach, describe, expect, it } from "vitest";
import { loadConfig } from "../../config/load.js";
import { NotFoundError } from "../../core/errors.js";
import { createLogger } from "../../core/logger.js";
import type { Runtime } from "../runtime.js";
import { errorMiddleware } from "./errors.js";
import { searchRoutes } from "./search-routes.js";

/** A promise and the function that settles it. */
function deferred(): { promise: Promise<void>; resolve: () => void } {
  let resolve!: () => void;
  const promise = new Promise<void>((res) => (resolve = res));
  return { promise, resolve };
}

const servers: Array<{ close(): void }> = [];
afterEach(() => {
  for (const server of servers.splice(0)) server.close();
});

/**
 * POST /v1/search on a catalog whose searches each wait for the test's go:
 * `started` settles once a search is in flight, `release` lets every search
 * go on (to a 404: no version exists in this catalog).
 */
async function blockingSearchApp(search: Record<string, number>): Promise<{ url: string; started: Promise<void>; release: () => void }> {
  const config = loadConfig({ env: {}, overrides: { search, log: { level: "silent" } } });
  const started = deferred();
  const release = deferred();
  const catalog = {
    serving: async () => {
      started.resolve();
      await release.promise;
      throw new NotFoundError("no index version here");
    },
  };
  const app = express();
  app.use(searchRoutes({ config, catalog, redis: {} } as unknown as Runtime));
  app.use(errorMiddleware(createLogger(config)));
  const server = app.listen(0, "127.0.0.1");
  servers.push(server);
  await new Promise((resolve) => server.once("listening", resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, started: started.promise, release: release.resolve };
}

const searchFor = (url: string, query = "dock") => fetch(`${url}/v1/search`, { method: "POST", headers: { "content-type": "application/json" }, body: JSON.stringify({ query }) });

describe("POST /v1/search under load", () => {
  it("answers 429 with Retry-After, naming the limit, to a search beyond search.maxInFlight when search.maxQueued is 0", async () => {
    const app = await blockingSearchApp({ maxInFlight: 1, maxQueued: 0 });
    const first = searchFor(app.url);
    await app.started;
    const second = await searchFor(app.url);
    expect(second.status).toBe(429);
    expect(second.headers.get("retry-after")).toBe("1");
    const body = (await second.json()) as { error: { code: string; message: string; details: Record<string, number> } };
    expect(body.error.code).toBe("too_many_requests");
    expect(body.error.message).toMatch(/search\.maxInFlight/);
    expect(body.error.details).toMatchObject({ maxInFlight: 1, maxQueued: 0, retryAfterSeconds: 1 });
    app.release();
    expect((await first).status).toBe(404);
    expect((await searchFor(app.url)).status).toBe(404); // the place is free again
  });

  it("lets a search wait in line while search.maxQueued has room", async () => {
    const app = await blockingSearchApp({ maxInFlight: 1, maxQueued: 1 });
    const first = searchFor(app.url);
    await app.started;
    const second = searchFor(app.url);
    const third = await searchFor(app.url);
    expect(third.status).toBe(429);
    app.release();
    expect((await first).status).toBe(404);
    expect((await second).status).toBe(404);
  });

  it("checks the request before it waits: a bad body is a 400 even when every place is taken", async () => {
    const app = await blockingSearchApp({ maxInFlight: 1, maxQueued: 0 });
    const first = searchFor(app.url);
    await app.started;
    expect((await searchFor(app.url, " ")).status).toBe(400);
    app.release();
    await first;
  });
});
