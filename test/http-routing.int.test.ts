import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest } from "./support/raw-http.js";
import { startStack, type Stack } from "./support/stack.js";

/**
 * One spelling per route: the app and every router in it route case-sensitively
 * and strictly, so a path that differs from a route in the case of a letter or
 * in a trailing slash is no route at all, even on an open API (no tokens), where
 * auth would not refuse it first.
 */
const JSON_TYPE = { "content-type": "application/json" };

interface Route {
  method: string;
  /** The path's segments; a param segment (an id, a version) may be spelled any way the route accepts. */
  segments: Array<{ text: string; literal: boolean }>;
  headers?: Record<string, string>;
  body?: string;
}

const lit = (text: string) => ({ text, literal: true });
const param = (text: string) => ({ text, literal: false });

const ROUTES: Route[] = [
  { method: "POST", segments: [lit("v1"), lit("documents")] },
  { method: "PUT", segments: [lit("v1"), lit("documents"), param("doc")] },
  { method: "GET", segments: [lit("v1"), lit("documents"), param("doc")] },
  { method: "GET", segments: [lit("v1"), lit("documents"), param("doc"), lit("chunks")] },
  { method: "DELETE", segments: [lit("v1"), lit("documents"), param("doc")] },
  { method: "GET", segments: [lit("v1"), lit("jobs"), param("any")] },
  { method: "POST", segments: [lit("v1"), lit("search")], headers: JSON_TYPE, body: JSON.stringify({ query: "dock" }) },
  { method: "GET", segments: [lit("v1"), lit("indexes")] },
  { method: "GET", segments: [lit("v1"), lit("indexes"), param("v1")] },
  { method: "POST", segments: [lit("v1"), lit("indexes"), param("v9"), lit("retire")], headers: JSON_TYPE, body: "{}" },
  { method: "GET", segments: [lit("v1"), lit("aliases"), lit("live")] },
  { method: "POST", segments: [lit("v1"), lit("aliases"), lit("live"), lit("rollback")], headers: JSON_TYPE, body: "{}" },
  { method: "GET", segments: [lit("v1"), lit("audit")] },
  { method: "GET", segments: [lit("healthz")] },
  { method: "GET", segments: [lit("readyz")] },
];

const pathOf = (segments: Route["segments"]) => `/${segments.map((s) => s.text).join("/")}`;

/** The route's path with the case of one letter of a literal segment flipped. */
function recased(route: Route, pick: number): string {
  const letters = route.segments.flatMap((s, si) => (s.literal ? [...s.text].flatMap((ch, ci) => (/[a-z]/i.test(ch) ? [[si, ci] as const] : [])) : []));
  const [si, ci] = letters[pick % letters.length] as readonly [number, number];
  return pathOf(
    route.segments.map((s, i) => (i === si ? { ...s, text: [...s.text].map((ch, j) => (j === ci ? (ch === ch.toLowerCase() ? ch.toUpperCase() : ch.toLowerCase()) : ch)).join("") } : s)),
  );
}

describe("one spelling per route", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  it("answers 404 'no route' to every route with a letter of its fixed part in the other case, or with a trailing slash", async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ROUTES), fc.nat(), fc.boolean(), async (route, pick, trailingSlash) => {
        const path = trailingSlash ? `${pathOf(route.segments)}/` : recased(route, pick);
        const response = await rawRequest(stack.url, { method: route.method, path, headers: route.headers, body: route.body });
        expect(response.status, `${route.method} ${path}: ${response.text}`).toBe(404);
        expect(response.json?.error?.message).toBe(`no route ${route.method} ${path}`);
      }),
      { numRuns: 120 },
    );
  });

  it("reaches every route that reads at its exact spelling (the spellings above are refused by routing, not because the route is missing)", async () => {
    for (const route of ROUTES.filter((r) => r.method === "GET" || r.segments.some((s) => s.text === "search"))) {
      const path = pathOf(route.segments);
      const response = await rawRequest(stack.url, { method: route.method, path, headers: route.headers, body: route.body });
      expect(response.json?.error?.message ?? "", `${route.method} ${path}`).not.toMatch(/^no route/);
    }
  });
});
