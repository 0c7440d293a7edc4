import type { Readable } from "node:stream";

/**
 * A place documents come from for the refresh: a local folder or a GCS
 * prefix. It lists what is there with enough of a fingerprint (size,
 * modification time or generation) to skip unchanged files without reading them.
 */
export interface SourceEntry {
  /** Stable URI of the file, e.g. file:///srv/docs/guide.md */
  uri: string;
  /** Path under the source root, with '/' separators. */
  relativePath: string;
  size: number;
  mtimeMs?: number;
  generation?: string;
}

export interface DocumentSource {
  /** URI of the root; documents from this source have URIs under it. */
  readonly uri: string;
  list(): AsyncIterable<SourceEntry>;
  read(entry: SourceEntry): Promise<Readable>;
}
