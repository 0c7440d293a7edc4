import type { ChildProcess } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import Table from "cli-table3";
import { mulberry32 } from "./corpus.mjs";

/** What every benchmark records next to its figures. */
export function machine(): Record<string, string | number> {
  return {
    cpu: cpus()[0]?.model ?? "unknown",
    cores: cpus().length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
    platform: `${process.platform}-${process.arch}`,
  };
}

export function writeResults(name: string, figures: unknown): string {
  const path = join(dirname(fileURLToPath(import.meta.url)), "results", `${name}.json`);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, `${JSON.stringify({ benchmark: name, at: new Date().toISOString(), machine: machine(), ...(figures as object) }, null, 2)}\n`);
  return path;
}

export function printTable(head: string[], rows: Array<Array<string | number>>): void {
  const table = new Table({ head, style: { head: [], border: [] } });
  for (const row of rows) table.push(row.map(String));
  console.log(table.toString());
}

/** Polls `url` until it answers 2xx (a server's /readyz), failing if the server's process exits first. */
export async function waitForReady(url: string, child: ChildProcess): Promise<void> {
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the server exited (${child.exitCode}) before it was ready`);
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

export const exited = (child: ChildProcess) => new Promise<number | null>((resolve) => (child.exitCode !== null ? resolve(child.exitCode) : child.once("exit", resolve)));

/** The p-th percentile of ascending values (nearest rank); 0 for none. */
export const percentile = (sorted: readonly number[], p: number) => (sorted.length ? (sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] as number) : 0);

/** Questions as bench:eval cuts them: 6-10 consecutive words of a document's body. */
export function corpusQuestions(docs: ReadonlyArray<{ text: string }>, count: number): string[] {
  const random = mulberry32(42);
  const out: string[] = [];
  while (out.length < count) {
    const words = (docs[Math.floor(random() * docs.length)] as { text: string }).text.split(/\s+/).filter((w) => /^[\p{L}\p{N}]/u.test(w));
    if (words.length < 20) continue;
    const start = Math.floor(random() * (words.length - 10));
    out.push(words.slice(start, start + 6 + Math.floor(random() * 5)).join(" "));
  }
  return out;
}
