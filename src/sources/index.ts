import type { Config } from "../../config/schema.js";
import { createGcsSource, isGcsUri } from "./gcs.js";
import { createLocalDirSource } from "./local-dir.js";
import type { DocumentSource } from "./source.js";

export type { DocumentSource, SourceEntry } from "./source.js";

/** The refresh source a location names: gs://bucket/prefix, or a local folder. */
export async function openSource(location: string, config: Config): Promise<DocumentSource> {
  return isGcsUri(location) ? createGcsSource(location, config) : createLocalDirSource(location);
}
