import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { actorFromHeader, hostAllowed, isPublicProbe, originAllowed, type HostPolicy } from "./auth.js";

describe("actorFromHeader", () => {
  it("names a caller that sends no header anonymous", () => {
    expect(actorFromHeader(undefined)).toBe("anonymous");
  });

  it("never returns a name in the system: namespace, nor one that is not 1-64 printable name characters, for any header value", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ maxLength: 80 }), fc.string({ unit: "binary", maxLength: 80 }), fc.stringMatching(/^[Ss][Yy][Ss][Tt][Ee][Mm]:[\w.@:-]{0,20}$/)), (value) => {
        let actor: string;
        try {
          actor = actorFromHeader(value);
        } catch (error) {
          expect((error as Error).message).toMatch(/^invalid x-ragops-actor/);
          return;
        }
        expect(actor).toBe(value);
        expect(actor).toMatch(/^[\w.@:-]{1,64}$/);
        expect(actor.toLowerCase().startsWith("system:")).toBe(false);
      }),
      { numRuns: 2_000 },
    );
  });

  it("refuses control characters and two headers joined", () => {
    for (const value of ["bob\u0000", "bob\u001b[31m", "bob\r\nx-evil: 1", ["alice", "bob"]]) expect(() => actorFromHeader(value)).toThrow(/invalid x-ragops-actor/);
  });

  it("keeps a name a caller gives itself", () => {
    expect(actorFromHeader("carol@ops")).toBe("carol@ops");
    expect(actorFromHeader("cli:carol")).toBe("cli:carol");
  });
});

describe("isPublicProbe", () => {
  it("is exactly GET or HEAD of /healthz and /readyz", () => {
    expect(isPublicProbe("GET", "/healthz")).toBe(true);
    expect(isPublicProbe("HEAD", "/readyz")).toBe(true);
    for (const [method, path] of [["POST", "/healthz"], ["GET", "/Healthz"], ["GET", "/healthz/"], ["GET", "//readyz"], ["GET", "/%68ealthz"], ["GET", "/v1/healthz"]] as const) {
      expect(isPublicProbe(method, path), `${method} ${path}`).toBe(false);
    }
  });
});

describe("hostAllowed", () => {
  const policy: HostPolicy = { localAddress: "127.0.0.1", localPort: 8080, configuredHost: "127.0.0.1", allowedHosts: ["rag.internal", "proxy.lan:9000"] };

  it.each(["localhost:8080", "LOCALHOST:8080", "127.0.0.1:8080", "[::1]:8080", "rag.internal", "rag.internal:1234", "proxy.lan:9000"])("accepts %j", (host) => {
    expect(hostAllowed(host, policy)).toBe(true);
  });

  it.each([undefined, "", "localhost", "localhost:8081", "127.0.0.1:80", "evil.example:8080", "localhost.evil.example:8080", "proxy.lan:8080", "proxy.lan", "127.0.0.1:8080@evil", "[::1", "rag.internal.evil:8080"])("refuses %j", (host) => {
    expect(hostAllowed(host, policy)).toBe(false);
  });

  it("accepts the address a wildcard bind answered on, IPv4-mapped or IPv6, on its port", () => {
    expect(hostAllowed("192.168.1.5:8080", { ...policy, localAddress: "::ffff:192.168.1.5", configuredHost: "0.0.0.0" })).toBe(true);
    expect(hostAllowed("[fe80::1]:8080", { ...policy, localAddress: "fe80::1", configuredHost: "::" })).toBe(true);
    expect(hostAllowed("192.168.1.6:8080", { ...policy, localAddress: "::ffff:192.168.1.5", configuredHost: "0.0.0.0" })).toBe(false);
    expect(hostAllowed("0.0.0.0:8080", { ...policy, localAddress: "::ffff:192.168.1.5", configuredHost: "0.0.0.0" })).toBe(false);
  });

  it("refuses any domain name that is not listed, on any port (DNS rebinding)", () => {
    fc.assert(
      fc.property(fc.domain(), fc.option(fc.integer({ min: 1, max: 65535 })), (name, port) => {
        fc.pre(name !== "rag.internal" && name !== "proxy.lan");
        expect(hostAllowed(port === null ? name : `${name}:${port}`, policy)).toBe(false);
      }),
    );
  });
});

describe("originAllowed", () => {
  it.each([
    [undefined, "127.0.0.1:8080"],
    ["http://127.0.0.1:8080", "127.0.0.1:8080"],
    ["http://localhost", "localhost"],
    ["https://rag.internal", "127.0.0.1:8080"],
  ])("accepts Origin %j on Host %j", (origin, host) => {
    expect(originAllowed(origin, host, ["rag.internal"])).toBe(true);
  });

  it.each([
    ["http://evil.example", "127.0.0.1:8080"],
    ["null", "127.0.0.1:8080"],
    ["file://", "127.0.0.1:8080"],
    ["http://localhost:3000", "localhost:8080"],
    ["https://127.0.0.1", "127.0.0.1"],
    ["not a url", "127.0.0.1:8080"],
    ["http://127.0.0.1:8080", undefined],
  ])("refuses Origin %j on Host %j", (origin, host) => {
    expect(originAllowed(origin, host, ["rag.internal"])).toBe(false);
  });
});
