import { readdir } from "node:fs/promises";
import { join } from "node:path";

/**
 * Every regular file under `dir`, as full paths, depth first with each
 * folder's entries in code-unit name order (the same on every machine and
 * locale), so callers can stream it.
 *
 * Skipped: dot-files and dot-folders with all below them (editor and VCS
 * litter; the local store's .tmp and .locks), and symbolic links, to files or
 * folders (a walk never leaves its root or loops). A folder that is missing,
 * not a folder, or removed while walked yields nothing: its files are gone.
 */
export async function* walkFiles(dir: string): AsyncGenerator<string> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch (error) {
    if (isCode(error, "ENOENT", "ENOTDIR")) return;
    throw error;
  }
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    if (entry.name.startsWith(".")) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) yield* walkFiles(path);
    else if (entry.isFile()) yield path;
  }
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === "object" && error !== null && codes.includes((error as { code?: string }).code ?? "");
}
