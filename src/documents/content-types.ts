import { UnsupportedMediaTypeError } from "../../core/errors.js";
import { KIND_CONTENT_TYPES, SUPPORTED_DESCRIPTION, claimedKind } from "../../ingest/parsers/detect.js";

export { SUPPORTED_EXTENSIONS } from "../../ingest/parsers/detect.js";

/**
 * The content type an upload claims, from its extension first, then its declared
 * type. Workers check the bytes; this only turns away what no parser handles.
 */
export function resolveContentType(filename: string, declared?: string): string {
  const kind = claimedKind(filename, declared);
  if (!kind) throw new UnsupportedMediaTypeError(`unsupported file type for ${JSON.stringify(filename)} (${declared || "no content type"}); supported: ${SUPPORTED_DESCRIPTION}`);
  return KIND_CONTENT_TYPES[kind];
}
