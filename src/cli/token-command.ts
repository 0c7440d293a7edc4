import { InvalidArgumentError, type Command } from "commander";
import { stringify as toYaml } from "yaml";
import { apiRoleSchema, tokenNameSchema, type ApiRole } from "../../config/schema.js";
import { newToken } from "../http/tokens.js";

const roleList = (value: string): ApiRole[] => {
  const roles = value.split(",").map((role) => role.trim()).filter(Boolean);
  const bad = roles.filter((role) => !apiRoleSchema.safeParse(role).success);
  if (roles.length === 0 || bad.length) throw new InvalidArgumentError(`roles are reader, content and operator, comma-separated${bad.length ? `; got ${bad.join(", ")}` : ""}`);
  return [...new Set(roles)] as ApiRole[];
};

const tokenName = (value: string): string => {
  const parsed = tokenNameSchema.safeParse(value);
  if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? "not a token name");
  return parsed.data;
};

/** What `ragops token create` prints: the token (once) and the entry that admits it, hashed. */
export function tokenEntry(name: string, roles: readonly ApiRole[], created = newToken()): { token: string; yaml: string; env: string; entry: { hash: string; roles: readonly ApiRole[] } } {
  const entry = { hash: created.hash, roles };
  return { token: created.token, entry, yaml: toYaml({ [name]: { hash: entry.hash, roles: [...roles] } }).trimEnd(), env: `${name}:${entry.hash}:${roles.join("+")}` };
}

/** `ragops token create`: a new random API token, shown once, and the hashed entry to configure. */
export function addTokenCommand(program: Command): void {
  const token = program.command("token").description("API tokens: make one for a caller (the server keeps only its hash)");
  token
    .command("create")
    .description("Print a new random API token once, and the entry (its SHA-256 hash and roles) to put into the tokens file (auth.tokensFile) or auth.tokens")
    .requiredOption("--name <name>", "who uses it: the audit log's actor", tokenName)
    .requiredOption("--roles <roles>", "comma-separated: reader (search), content (documents, jobs), operator (indexes, aliases, evaluations, golden sets, metrics, queues)", roleList)
    .option("--json", "print {name, token, entry} as JSON")
    .action((options: { name: string; roles: ApiRole[]; json?: boolean }) => {
      const made = tokenEntry(options.name, options.roles);
      if (options.json) {
        console.log(JSON.stringify({ name: options.name, token: made.token, entry: made.entry, env: made.env }));
        return;
      }
      console.log(`Token for ${options.name} (shown once, not stored anywhere; give it to the caller as 'Authorization: Bearer <token>'):\n\n  ${made.token}\n`);
      console.log(`Entry for the tokens file (auth.tokensFile, YAML) or auth.tokens:\n\n${made.yaml.replace(/^/gm, "  ")}\n`);
      console.log(`Or in RAGOPS_API_TOKENS (comma-separated):\n\n  ${made.env}`);
    });
}
