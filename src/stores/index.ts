import { join } from "node:path";
import type { Config } from "../../config/schema.js";
import { createLocalDirStore } from "./local-dir.js";
import type { ObjectStore } from "../../core/object-store.js";

export type { ObjectStore, ObjectMeta } from "../../core/object-store.js";

export function createObjectStore(config: Config): ObjectStore {
  return createLocalDirStore({ root: join(config.dataDir, "objects") });
}
