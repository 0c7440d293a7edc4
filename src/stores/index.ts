import { join } from "node:path";
import type { Config } from "../../config/schema.js";
import { createGcsStore, type GcsStoreOptions } from "./gcs.js";
import { createLocalDirStore } from "./local-dir.js";
import type { ObjectStore } from "../../core/object-store.js";
import { InvalidRequestError } from "../../core/errors.js";

export type { ObjectStore, ObjectMeta } from "../../core/object-store.js";

/** The object store config selects (objectStore.provider): a directory under dataDir, or a GCS bucket. */
export function createObjectStore(config: Config): ObjectStore {
  if (config.objectStore.provider === "gcs") return createGcsStore(gcsStoreOptions(config, { bucket: config.gcp.bucket as string, prefix: config.gcp.objectPrefix }));
  return createLocalDirStore({ root: join(config.dataDir, "objects") });
}

/** The GCS client settings of the gcp profile, for a bucket and prefix (the store's, or a refresh source's). */
export function gcsStoreOptions(config: Config, where: { bucket: string; prefix: string }): GcsStoreOptions {
  const { gcp } = config;
  return {
    ...where,
    ...(gcp.project ? { projectId: gcp.project } : {}),
    ...(gcp.storageApiEndpoint ? { apiEndpoint: gcp.storageApiEndpoint } : {}),
    resumableThresholdBytes: gcp.resumableUploadMinBytes,
    uploadChunkBytes: gcp.uploadChunkBytes,
  };
}

/** The store a Vertex batch rebuild writes its files into: the bucket and path of gcp.vectorSearch.stagingUri (gs://bucket/path). */
export function createStagingStore(config: Config): ObjectStore {
  const uri = config.gcp.vectorSearch.stagingUri;
  const match = uri ? /^gs:\/\/([^/]+)\/?(.*)$/.exec(uri) : null;
  if (!match) throw new InvalidRequestError("a Vertex batch rebuild needs gcp.vectorSearch.stagingUri (RAGOPS_VERTEX_STAGING_URI), a gs://bucket/path directory");
  return createGcsStore(gcsStoreOptions(config, { bucket: match[1] as string, prefix: (match[2] as string).replace(/\/+$/, "") }));
}
