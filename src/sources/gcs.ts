import type { Readable } from "node:stream";
import type { Config } from "../../config/schema.js";
import { InvalidRequestError, isRagopsError } from "../../core/errors.js";
import { validateKey } from "../../core/keys.js";
import { isSupportedFile } from "../documents/content-types.js";
import { createGcsStore } from "../stores/gcs.js";
import { gcsStoreOptions } from "../stores/index.js";
import type { DocumentSource, SourceEntry } from "./source.js";

const GS_URI = /^gs:\/\/([a-z0-9][a-z0-9._-]{1,61}[a-z0-9])(?:\/(.*))?$/;

export function isGcsUri(location: string): boolean {
  return location.startsWith("gs://");
}

/**
 * Every supported object under gs://bucket/prefix (names with a segment
 * starting with '.' skipped, as in a folder). The listing carries each
 * object's generation, which GCS changes on every write: the refresh compares
 * it with the one it indexed and downloads only objects whose generation moved.
 * The client settings (project, endpoint, upload sizes) are the gcp profile's.
 */
export function createGcsSource(uri: string, config: Config): DocumentSource {
  const match = GS_URI.exec(uri);
  if (!match) throw new InvalidRequestError(`refresh source ${uri} is not a GCS location: write gs://bucket or gs://bucket/prefix`);
  const bucket = match[1] as string;
  const prefix = (match[2] ?? "").replace(/\/+$/, "");
  try {
    if (prefix) validateKey(prefix);
  } catch (error) {
    throw new InvalidRequestError(`refresh source ${uri}: the prefix ${isRagopsError(error) ? error.message : String(error)}`);
  }
  const rootUri = prefix ? `gs://${bucket}/${prefix}` : `gs://${bucket}`;
  const store = createGcsStore(gcsStoreOptions(config, { bucket, prefix }));
  async function* list(): AsyncIterable<SourceEntry> {
    for await (const object of store.list("")) {
      if (!isSupportedFile(object.key)) continue; // the store lists keys only: no folder placeholders or dot segments
      yield { uri: `${rootUri}/${object.key}`, relativePath: object.key, size: object.size, generation: object.generation };
    }
  }
  return {
    uri: rootUri,
    list,
    read: async (entry): Promise<Readable> => (await store.getStream(entry.relativePath)).stream,
  };
}
