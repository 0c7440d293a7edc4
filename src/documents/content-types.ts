import { extname } from "node:path";
import { UnsupportedMediaTypeError } from "../errors.js";

const EXTENSION_TYPES: Record<string, string> = { ".md": "text/markdown", ".markdown": "text/markdown", ".txt": "text/plain", ".text": "text/plain" };
const DECLARED_TYPES: Record<string, string> = { "text/markdown": "text/markdown", "text/x-markdown": "text/markdown", "text/plain": "text/plain" };

export const SUPPORTED_EXTENSIONS = Object.keys(EXTENSION_TYPES);

/** The file's extension decides; a declared type is used only when the extension says nothing. */
export function resolveContentType(filename: string, declared?: string): string {
  const byExtension = EXTENSION_TYPES[extname(filename).toLowerCase()];
  if (byExtension) return byExtension;
  const byDeclared = DECLARED_TYPES[(declared ?? "").split(";")[0]?.trim().toLowerCase() ?? ""];
  if (byDeclared) return byDeclared;
  throw new UnsupportedMediaTypeError(`unsupported file type for ${JSON.stringify(filename)} (${declared || "no content type"}); supported: Markdown (.md) and plain text (.txt)`);
}
