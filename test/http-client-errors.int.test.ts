import { gzipSync } from "node:zlib";
import fc from "fast-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rawRequest, type RawRequest } from "./support/raw-http.js";
import { startStack, type Stack } from "./support/stack.js";

interface BadRequest extends RawRequest {
  status: number;
  code: string;
  /** What the message must name, so the caller knows what to fix. */
  message: RegExp;
}

const json = { "content-type": "application/json" };
const search = JSON.stringify({ query: "dock" });

/** Requests that are wrong on the client's side: each must get its 4xx and a message naming the problem, never a 500. */
const BAD_REQUESTS: Record<string, BadRequest> = {
  "an index version in capitals in the path": { method: "GET", path: "/v1/indexes/V1", status: 400, code: "invalid_request", message: /index version "V1".*lowercase/ },
  "an index version that is not a name, to retire": { method: "POST", path: "/v1/indexes/v_1/retire", headers: json, body: "{}", status: 400, code: "invalid_request", message: /index version "v_1"/ },
  "an index version that does not decode": { method: "GET", path: "/v1/indexes/%ZZ", status: 400, code: "invalid_request", message: /%ZZ.*percent-encod/ },
  "a document id that does not decode": { method: "GET", path: "/v1/documents/%ZZ", status: 400, code: "invalid_request", message: /%ZZ.*percent-encod/ },
  "a document id that does not decode, for its chunks": { method: "GET", path: "/v1/documents/%ZZ/chunks", status: 400, code: "invalid_request", message: /%ZZ.*percent-encod/ },
  "a document id that does not decode, to delete": { method: "DELETE", path: "/v1/documents/%E0%A4%A", status: 400, code: "invalid_request", message: /%E0%A4%A.*percent-encod/ },
  "a document id that decodes to a path": { method: "GET", path: "/v1/documents/..%2F..%2Fsecret", status: 400, code: "invalid_request", message: /invalid document id/ },
  "a job id that does not decode": { method: "GET", path: "/v1/jobs/%ZZ", status: 400, code: "invalid_request", message: /%ZZ.*percent-encod/ },
  "a JSON body in the compress encoding": { method: "POST", path: "/v1/search", headers: { ...json, "content-encoding": "compress" }, body: search, status: 415, code: "unsupported_media_type", message: /content-encoding "compress".*gzip/i },
  "a JSON body that claims gzip but is not": { method: "POST", path: "/v1/search", headers: { ...json, "content-encoding": "gzip" }, body: "this is not gzip", status: 400, code: "invalid_request", message: /gzip/i },
  "a JSON body that claims deflate but is not, to swap": { method: "POST", path: "/v1/aliases/live/swap", headers: { ...json, "content-encoding": "deflate" }, body: "{not deflate", status: 400, code: "invalid_request", message: /deflate/i },
  "a JSON body in latin1": { method: "POST", path: "/v1/search", headers: { "content-type": "application/json; charset=latin1" }, body: search, status: 415, code: "unsupported_media_type", message: /charset "latin1".*utf-8/i },
  "a JSON body in ISO-8859-1, spelled otherwise": { method: "POST", path: "/v1/indexes", headers: { "content-type": "application/json; charset=ISO-8859-1" }, body: "{}", status: 415, code: "unsupported_media_type", message: /charset "iso-8859-1".*utf-8/i },
  "a JSON body that is not JSON": { method: "POST", path: "/v1/search", headers: json, body: "{query:", status: 400, code: "invalid_request", message: /not valid JSON/ },
  "a JSON body that is a bare string": { method: "POST", path: "/v1/search", headers: json, body: '"dock"', status: 400, code: "invalid_request", message: /not valid JSON|JSON object/ },
  "a JSON body larger than the limit": { method: "POST", path: "/v1/search", headers: json, body: JSON.stringify({ query: "x".repeat(300 * 1024) }), status: 413, code: "payload_too_large", message: /too large/ },
  "a swap with no JSON content type": { method: "POST", path: "/v1/aliases/live/swap", headers: { "content-type": "text/plain" }, body: '{"to":"v1","expectedVersion":"v1"}', status: 400, code: "invalid_request", message: /JSON object.*Content-Type: application\/json/ },
  "a search of an index version in capitals": { method: "POST", path: "/v1/search", headers: json, body: JSON.stringify({ query: "dock", index: "V1" }), status: 400, code: "invalid_request", message: /index.*lowercase/ },
  "a route that is not there": { method: "GET", path: "/v1/nothing", status: 404, code: "not_found", message: /no route GET \/v1\/nothing/ },
};

describe("client errors are answered 4xx with a message, never 500", () => {
  let stack: Stack;

  beforeAll(async () => {
    stack = await startStack();
  });

  afterAll(async () => {
    await stack?.stop();
  });

  for (const [name, bad] of Object.entries(BAD_REQUESTS)) {
    it(`answers ${bad.status} ${bad.code} to ${name}`, async () => {
      const response = await rawRequest(stack.url, bad);
      expect(response.status, response.text).toBe(bad.status);
      expect(response.json?.error?.code).toBe(bad.code);
      expect(response.json?.error?.message).toMatch(bad.message);
    });
  }

  it("never answers 500 to any path segment under a route, however it is (mis)encoded", async () => {
    const raw = fc.constantFrom(..."abzAZ09-._~!$&'()*+,;=:@%".split(""));
    const percent = fc.tuple(fc.constantFrom(..."0123456789abcdefABCDEFgGzZ%".split("")), fc.constantFrom(..."0123456789abcdefABCDEFgGzZ".split(""))).map(([a, b]) => `%${a}${b}`);
    const segment = fc.array(fc.oneof(raw, percent), { minLength: 1, maxLength: 12 }).map((parts) => parts.join(""));
    const route = fc.constantFrom(
      ["GET", "/v1/indexes/{}"],
      ["POST", "/v1/indexes/{}/retire"],
      ["GET", "/v1/documents/{}"],
      ["GET", "/v1/documents/{}/chunks"],
      ["DELETE", "/v1/documents/{}"],
      ["GET", "/v1/jobs/{}"],
    );
    await fc.assert(
      fc.asyncProperty(route, segment, async ([method, template], value) => {
        const response = await rawRequest(stack.url, { method, path: template.replace("{}", value), headers: json, body: method === "POST" ? "{}" : undefined });
        expect(response.status, `${method} ${template.replace("{}", value)}: ${response.text}`).toBeLessThan(500);
        if (response.status >= 400) expect(response.json?.error?.message).toBeTruthy();
      }),
      { numRuns: 300 },
    );
  });

  it("still reads a JSON body that really is gzip", async () => {
    const response = await rawRequest(stack.url, { method: "POST", path: "/v1/search", headers: { ...json, "content-encoding": "gzip" }, body: gzipSync(search) });
    expect(response.status, response.text).toBe(200);
  });
});
