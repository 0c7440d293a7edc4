import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { protobuf } from "google-gax";
import { AIPLATFORM_PROTOS } from "./grpc-server.js";

/**
 * google.protobuf.Any as a long-running operation carries its metadata and
 * response: the message encoded with protobufjs from the protos the client
 * packages ship, `type_url` in snake case as @grpc/proto-loader wants it.
 */
export interface WireAny {
  type_url: string;
  value: Buffer;
}

const require = createRequire(import.meta.url);
const GAX_PROTOS = join(dirname(require.resolve("google-gax")), "..", "..", "build", "protos");
/** The services whose operations carry Anys; their imports bring every message type those hold. */
const PROTO_FILES = ["google/cloud/aiplatform/v1/index_service.proto", "google/cloud/aiplatform/v1/index_endpoint_service.proto"];

let root: protobuf.Root | undefined;

function types(): protobuf.Root {
  if (!root) {
    const loading = new protobuf.Root();
    loading.resolvePath = (_origin, target) => [AIPLATFORM_PROTOS, GAX_PROTOS].map((dir) => join(dir, target)).find(existsSync) ?? target;
    root = loading.loadSync(PROTO_FILES, { keepCase: false });
  }
  return root;
}

/** `object` (camelCase fields, enums by name, Values as {structValue: ...}) as an Any of the named message type, e.g. google.cloud.aiplatform.v1.Index. */
export function packAny(typeName: string, object: object): WireAny {
  const type = types().lookupType(typeName);
  return { type_url: `type.googleapis.com/${typeName}`, value: Buffer.from(type.encode(type.fromObject(object)).finish()) };
}
