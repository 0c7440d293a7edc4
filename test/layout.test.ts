import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { walkFiles } from "../core/walk-files.js";

/**
 * The folders show the pipeline, so their imports go one way: core is the
 * ground layer, ingest builds on it, indexer on ingest, and only src (the
 * control plane and entry points) wires adapters in. test/, bench/ and
 * scripts/ are entry points too and may import anything.
 */
const ALLOWED: Record<string, readonly string[]> = {
  core: ["core"],
  config: ["config", "core"],
  ingest: ["ingest", "core", "config"],
  indexer: ["indexer", "ingest", "core", "config"],
  src: ["src", "indexer", "ingest", "core", "config"],
};

const ROOT = resolve(import.meta.dirname, "..");

async function sourceFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for await (const file of walkFiles(dir)) if (file.endsWith(".ts")) files.push(file);
  return files;
}

/** Top folders a file's relative imports (static, dynamic, type-only and re-exports) reach. */
export function importedFolders(file: string, text: string): string[] {
  const specifiers = [...text.matchAll(/(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']+)["']/g)].map((m) => m[1] as string);
  return specifiers.map((specifier) => relative(ROOT, resolve(dirname(file), specifier)).split("/")[0] as string);
}

describe("layering", () => {
  it("finds the imports of a file, whatever their form", () => {
    const file = join(ROOT, "ingest", "parsers", "x.ts");
    const text = `import { a } from "../../src/errors.js";\nimport type { B } from "../types.js";\nexport { c } from "../../indexer/c.js";\nconst d = await import("../../core/d.js");`;
    expect(importedFolders(file, text)).toEqual(["src", "ingest", "indexer", "core"]);
  });

  for (const [folder, allowed] of Object.entries(ALLOWED)) {
    it(`keeps ${folder}/ importing only ${allowed.join(", ")}`, async () => {
      const files = await sourceFiles(join(ROOT, folder));
      expect(files.length, "files found to check").toBeGreaterThan(0);
      const violations = files.flatMap((file) =>
        importedFolders(file, readFileSync(file, "utf8"))
          // A test beside the code may use the shared test support (conformance suites, stacks).
          .filter((target) => !allowed.includes(target) && !(target === "test" && file.endsWith(".test.ts")))
          .map((target) => `${relative(ROOT, file)} imports ${target}/`),
      );
      expect(violations).toEqual([]);
    });
  }
});
