import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { extname, join, relative, resolve, sep } from "node:path";
import type { Readable } from "node:stream";
import { pathToFileURL } from "node:url";
import { SUPPORTED_EXTENSIONS } from "../documents/content-types.js";
import { InvalidRequestError } from "../../core/errors.js";
import type { DocumentSource, SourceEntry } from "./source.js";

/** Every supported file under a directory (dot-files and dot-directories skipped). */
export async function createLocalDirSource(dir: string): Promise<DocumentSource> {
  const root = resolve(dir);
  const info = await stat(root).catch(() => undefined);
  if (!info?.isDirectory()) throw new InvalidRequestError(`refresh source ${dir} is not a directory`);
  const rootUri = pathToFileURL(root).href;
  async function* walk(path: string): AsyncIterable<SourceEntry> {
    const entries = await readdir(path, { withFileTypes: true });
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const full = join(path, entry.name);
      if (entry.isDirectory()) yield* walk(full);
      else if (entry.isFile() && SUPPORTED_EXTENSIONS.includes(extname(entry.name).toLowerCase())) {
        const { size, mtimeMs } = await stat(full);
        yield { uri: pathToFileURL(full).href, relativePath: relative(root, full).split(sep).join("/"), size, mtimeMs };
      }
    }
  }
  return {
    uri: rootUri,
    list: () => walk(root),
    read: async (entry): Promise<Readable> => createReadStream(join(root, ...entry.relativePath.split("/"))),
  };
}
