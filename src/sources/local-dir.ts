import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { isSupportedFile } from "../documents/content-types.js";
import { InvalidRequestError } from "../../core/errors.js";
import { walkFiles } from "../../core/walk-files.js";
import type { DocumentSource, SourceEntry } from "./source.js";

/** Every supported file under a directory (dot-files and dot-directories skipped). */
export async function createLocalDirSource(dir: string): Promise<DocumentSource> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw new InvalidRequestError(`refresh source ${dir} is not a directory`);
  const rootUri = pathToFileURL(root).href;
  async function* list(): AsyncIterable<SourceEntry> {
    for await (const full of walkFiles(root)) {
      if (!isSupportedFile(full)) continue;
      const { size, mtimeMs } = await stat(full);
      yield { uri: pathToFileURL(full).href, relativePath: relative(root, full).split(sep).join("/"), size, mtimeMs };
    }
  }
  return {
    uri: rootUri,
    list,
    read: async (entry): Promise<Readable> => createReadStream(join(root, ...entry.relativePath.split("/"))),
  };
}
