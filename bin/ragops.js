#!/usr/bin/env node
// The compiled CLI is built by `npm run build` (run by `npm ci` through `prepare`).
import { existsSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";

const compiled = fileURLToPath(new URL("../dist/src/cli/main.js", import.meta.url));
if (!existsSync(compiled)) {
  console.error("ragops: dist/ is missing; run `npm run build` (or use `npm run ragops -- <args>` in a checkout).");
  process.exit(1);
}
await import(pathToFileURL(compiled).href);
