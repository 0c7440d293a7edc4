import Table from "cli-table3";
import type { SearchResult } from "../search.js";

export function formatSearchResults(results: readonly SearchResult[], width = process.stdout.columns || 120): string {
  if (results.length === 0) return "  (no results)";
  const textWidth = Math.max(40, Math.min(90, width - 60));
  const table = new Table({
    head: ["#", "score", "document", "where", "text"],
    colWidths: [4, 8, 26, 24, textWidth],
    wordWrap: true,
    wrapOnWordBoundary: true,
    style: tableStyle(),
  });
  for (const r of results) {
    const where = [r.headingPath.join(" › ") || r.title, r.pageStart !== undefined ? `p. ${r.pageStart}${r.pageEnd && r.pageEnd !== r.pageStart ? `-${r.pageEnd}` : ""}` : ""].filter(Boolean).join("\n");
    table.push([String(r.rank), r.score.toFixed(3), r.documentId, where, excerpt(r.text, textWidth * 3)]);
  }
  return table.toString();
}

function excerpt(text: string, max: number): string {
  const flat = text.replace(/^#+\s.*$/gm, "").replace(/\s+/g, " ").trim();
  return flat.length <= max ? flat : `${flat.slice(0, max - 1).replace(/\s+\S*$/, "")}…`;
}

export function formatDuration(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/** Colours only on a terminal; piped output stays plain text. */
export function tableStyle(): { head: string[]; border: string[] } {
  return process.stdout.isTTY ? { head: ["cyan"], border: ["grey"] } : { head: [], border: [] };
}
