import * as crypto from "node:crypto";
import { describe, expect, it, vi } from "vitest";
import { ConfigError, loadConfig } from "../../config/load.js";
import { findToken, loadApiTokens, newToken, tokenHash } from "./tokens.js";

vi.mock("node:crypto", async (importOriginal) => {
  const actual = await importOriginal<typeof crypto>();
  return { ...actual, timingSafeEqual: vi.fn(actual.timingSafeEqual) };
});

const auth = (tokens: Record<string, unknown>, tokensFile?: string) => loadConfig({ env: {}, overrides: { auth: { tokens, ...(tokensFile ? { tokensFile } : {}) } } }).auth;

describe("API tokens", () => {
  const made = Array.from({ length: 5 }, () => newToken());
  const tokens = loadApiTokens(auth(Object.fromEntries(made.map((t, i) => [`t${i}`, { hash: t.hash, roles: ["reader"] }]))));

  it("are found by the token, whose hash alone the server holds", () => {
    expect(findToken(tokens, made[3]?.token as string)?.name).toBe("t3");
    expect(findToken(tokens, made[3]?.hash as string)).toBeUndefined();
    expect(findToken(tokens, `${made[3]?.token}x`)).toBeUndefined();
    expect(tokens.every((t) => !t.plain && t.digest.length === 32)).toBe(true);
  });

  it("are compared in constant time with every entry, whether one matches first, last or none", () => {
    const compare = vi.mocked(crypto.timingSafeEqual);
    for (const presented of [made[0]?.token, made[4]?.token, "rgo_not-a-token-at-all"]) {
      compare.mockClear();
      findToken(tokens, presented as string);
      expect(compare).toHaveBeenCalledTimes(tokens.length);
      for (const [a, b] of compare.mock.calls) expect([(a as Buffer).length, (b as Buffer).length]).toEqual([32, 32]);
    }
  });

  it("are random, prefixed, and hash as sha256:<hex>", () => {
    const { token, hash } = newToken();
    expect(token).toMatch(/^rgo_[A-Za-z0-9_-]{43}$/);
    expect(hash).toBe(`sha256:${crypto.createHash("sha256").update(token).digest("hex")}`);
    expect(newToken().token).not.toBe(token);
  });

  it("in plain text (deprecated) hold every role", () => {
    const [plain] = loadApiTokens(auth({ legacy: "legacy-token-0123456789" }));
    expect(plain).toMatchObject({ name: "legacy", plain: true, roles: ["reader", "content", "operator"] });
    expect(findToken([plain!], "legacy-token-0123456789")?.name).toBe("legacy");
  });

  it("come from RAGOPS_API_TOKENS as name:sha256:<hex>:role+role, beside plain ones", () => {
    const hash = tokenHash("rgo_example");
    const config = loadConfig({ env: { RAGOPS_API_TOKENS: `app:${hash}:reader+content,old:old-plain-token-123456` } });
    expect(config.auth.tokens).toEqual({ app: { hash, roles: ["reader", "content"] }, old: "old-plain-token-123456" });
    expect(() => loadConfig({ env: { RAGOPS_API_TOKENS: `app:${hash}:reader+admin` } })).toThrow(/RAGOPS_API_TOKENS=\(hidden\)/);
  });

  it("come from a YAML or JSON secrets file, under tokens: or at the top level", () => {
    const hash = tokenHash("rgo_file");
    const yaml = `tokens:\n  ci:\n    hash: ${hash}\n    roles: [content, operator]\n`;
    const json = JSON.stringify({ ci: { hash, roles: ["content", "operator"] } });
    for (const text of [yaml, json]) {
      const loaded = loadApiTokens(auth({}, "/secrets/tokens.yaml"), () => text);
      expect(loaded.map((t) => [t.name, t.roles])).toEqual([["ci", ["content", "operator"]]]);
      expect(findToken(loaded, "rgo_file")?.name).toBe("ci");
    }
  });

  it("refuse a bad secrets file at start, naming the file and the entry but never a value", () => {
    const secret = "plain-but-too-short";
    const read = (text: string) => () => loadApiTokens(auth({}, "/secrets/tokens.yaml"), () => text);
    expect(read(`ci:\n  hash: sha256:abc\n  roles: [reader]\n`)).toThrow(/\/secrets\/tokens\.yaml: ci/);
    expect(read(`ci:\n  hash: ${tokenHash("x")}\n  roles: [admin]\n`)).toThrow(ConfigError);
    expect(read(`ci:\n  hash: ${tokenHash("x")}\n  roles: []\n`)).toThrow(/at least one role/);
    expect(read(`ci: ${secret.slice(0, 10)}\n`)).toThrow(ConfigError);
    try {
      read(`ci: ${secret.slice(0, 10)}\n`)();
    } catch (error) {
      expect((error as Error).message).not.toContain(secret.slice(0, 10));
    }
    expect(read("ci: [unclosed\n")).toThrow(/not valid YAML or JSON/);
    expect(() => loadApiTokens(auth({}, "/no/such/file"))).toThrow(/cannot read the API tokens file \/no\/such\/file/);
  });

  it("refuse one name both in config and in the file", () => {
    const hash = tokenHash("rgo_a");
    expect(() => loadApiTokens(auth({ ci: { hash, roles: ["reader"] } }, "/secrets/t.yaml"), () => `ci:\n  hash: ${hash}\n  roles: [reader]\n`)).toThrow(/both in auth.tokens and in \/secrets\/t.yaml/);
  });
});
