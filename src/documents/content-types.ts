import { extname } from "node:path";
import { UnsupportedMediaTypeError } from "../../core/errors.js";
import { KIND_CONTENT_TYPES, SUPPORTED_DESCRIPTION, SUPPORTED_EXTENSIONS, claimedKind } from "../../ingest/parsers/detect.js";

/** Whether a file's extension is one a parser handles: what walking a folder picks up. */
export function isSupportedFile(path: string): boolean {
  return SUPPORTED_EXTENSIONS.includes(extname(path).toLowerCase());
}

/**
 * The content type an upload claims, from its extension first, then its declared
 * type. Workers check the bytes; this only turns away what no parser handles.
 */
export function resolveContentType(filename: string, declared?: string): string {
  const kind = claimedKind(filename, declared);
  if (!kind) throw new UnsupportedMediaTypeError(`unsupported file type for ${JSON.stringify(filename)} (${declared || "no content type"}); supported: ${SUPPORTED_DESCRIPTION}`);
  return KIND_CONTENT_TYPES[kind];
}
