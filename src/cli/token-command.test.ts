import { describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { loadConfig } from "../../config/load.js";
import { tokenEntriesSchema } from "../../config/schema.js";
import { findToken, loadApiTokens } from "../http/tokens.js";
import { tokenEntry } from "./token-command.js";

describe("ragops token create", () => {
  it("prints entries that admit exactly the new token, in the file's YAML and in RAGOPS_API_TOKENS's form", () => {
    const made = tokenEntry("search-app", ["reader", "content"]);
    const fromYaml = tokenEntriesSchema.parse(parseYaml(made.yaml));
    expect(fromYaml).toEqual({ "search-app": { hash: made.entry.hash, roles: ["reader", "content"] } });
    const fromEnv = loadConfig({ env: { RAGOPS_API_TOKENS: made.env } }).auth;
    for (const auth of [{ tokens: fromYaml }, fromEnv]) {
      const tokens = loadApiTokens(auth);
      expect(findToken(tokens, made.token)).toMatchObject({ name: "search-app", roles: ["reader", "content"] });
      expect(findToken(tokens, tokenEntry("other", ["reader"]).token)).toBeUndefined();
    }
    expect(made.yaml).not.toContain(made.token);
    expect(made.env).not.toContain(made.token);
  });
});
