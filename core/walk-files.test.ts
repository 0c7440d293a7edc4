import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { walkFiles } from "./walk-files.js";

const freshDir = () => mkdtempSync(join(tmpdir(), "ragops-walk-"));

async function walked(root: string): Promise<string[]> {
  const out: string[] = [];
  for await (const file of walkFiles(root)) out.push(relative(root, file).split(sep).join("/"));
  return out;
}

function write(root: string, path: string): void {
  const full = join(root, ...path.split("/"));
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, path);
}

describe("walkFiles", () => {
  it("yields every file under a folder, depth first in name order", async () => {
    const root = freshDir();
    for (const path of ["b.md", "a/z.txt", "a/b/c.pdf", "a-c.md", "A.md"]) write(root, path);
    expect(await walked(root)).toEqual(["A.md", "a/b/c.pdf", "a/z.txt", "a-c.md", "b.md"]);
  });

  it("skips dot-files and everything under a dot-directory", async () => {
    const root = freshDir();
    for (const path of [".hidden.md", ".locks/x.lock", "docs/.tmp/partial", "docs/kept.md"]) write(root, path);
    expect(await walked(root)).toEqual(["docs/kept.md"]);
  });

  it("yields nothing for a folder that does not exist or is a file", async () => {
    const root = freshDir();
    write(root, "file.md");
    expect(await walked(join(root, "missing"))).toEqual([]);
    expect(await walked(join(root, "file.md"))).toEqual([]);
  });

  it("follows no symbolic link, to a file or to a folder", async () => {
    const root = freshDir();
    const outside = freshDir();
    write(outside, "secret.md");
    write(root, "real.md");
    symlinkSync(join(outside, "secret.md"), join(root, "link.md"));
    symlinkSync(outside, join(root, "linked-dir"));
    expect(await walked(root)).toEqual(["real.md"]);
  });

  it("passes over a folder removed while it is walked", async () => {
    const root = freshDir();
    for (const path of ["a/1.md", "b/2.md", "c/3.md"]) write(root, path);
    const seen: string[] = [];
    for await (const file of walkFiles(root)) {
      seen.push(relative(root, file));
      if (seen.length === 1) rmSync(join(root, "b"), { recursive: true });
    }
    expect(seen).toEqual([join("a", "1.md"), join("c", "3.md")]);
  });

  it("finds exactly the files of any tree", async () => {
    const segment = fc.stringMatching(/^[a-z0-9._-]{1,6}$/).filter((s) => s !== "." && s !== "..");
    const tree = fc.uniqueArray(fc.array(segment, { minLength: 1, maxLength: 3 }).map((parts) => parts.join("/")), { maxLength: 12 });
    await fc.assert(
      fc.asyncProperty(tree, async (paths) => {
        const root = freshDir();
        // A path cannot be a file and a folder at once: keep the files that no other path passes through.
        const files = paths.filter((p) => !paths.some((q) => q.startsWith(`${p}/`)) && !paths.some((q) => p.startsWith(`${q}/`)));
        for (const path of files) write(root, path);
        const visible = files.filter((p) => !p.split("/").some((part) => part.startsWith(".")));
        expect((await walked(root)).sort()).toEqual([...visible].sort());
        rmSync(root, { recursive: true });
      }),
      { numRuns: 40 },
    );
  });
});
