import { describe, expect, it } from "vitest";
import { isRagopsError, type RagopsError } from "../../core/errors.js";
import { readiness, type ReadinessDeps } from "./probe-routes.js";

function deps(options: { redis?: Error; live?: Error; count?: Error } = {}): ReadinessDeps {
  return {
    redis: { ping: async () => (options.redis ? Promise.reject(options.redis) : "PONG") },
    catalog: {
      live: async () => {
        if (options.live) throw options.live;
        return { version: { record: { version: "v3" }, index: { count: async () => (options.count ? Promise.reject(options.count) : 42) } } };
      },
    },
  };
}

async function refusal(promise: Promise<unknown>): Promise<RagopsError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isRagopsError(error)) throw new Error(`expected a RagopsError, got ${String(error)}`);
  return error;
}

describe("readiness", () => {
  it("is ready when Redis answers and the live version opens, and says how many datapoints it holds", async () => {
    expect(await readiness(deps())).toEqual({ status: "ready", live: "v3", checks: { redis: "ok", index: "ok (42 datapoints in v3)" } });
  });

  it("is unavailable (503) when Redis does not answer, naming the check and the reason", async () => {
    const error = await refusal(readiness(deps({ redis: new Error("connection refused") })));
    expect(error.status).toBe(503);
    expect(error.message).toMatch(/^not ready: /);
    expect(error.message).toContain("redis: connection refused");
    expect(error.details).toEqual({ redis: "connection refused", index: "ok (42 datapoints in v3)", live: "v3" });
  });

  it("names the live version when its index is the check that fails", async () => {
    const error = await refusal(readiness(deps({ count: new Error("table missing") })));
    expect(error.message).toContain("index: v3: table missing");
  });

  it("reports no live version when the alias cannot be read", async () => {
    const error = await refusal(readiness(deps({ live: new Error("no live alias") })));
    expect(error.details).toEqual({ redis: "ok", index: "no live alias", live: undefined });
  });
});
