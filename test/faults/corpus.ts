import { expect } from "vitest";
import { readManifests } from "../../indexer/sync/manifest.js";
import { profileKey } from "../../indexer/sync/profile.js";
import { getDocument } from "../../src/documents/service.js";
import type { ReconcileReport } from "../../indexer/reconcile/reconcile.js";
import { runReconcile } from "../../src/reconcile.js";
import type { Runtime } from "../../src/runtime.js";
import { listIndexIds } from "../support/stack.js";

const TERMINAL = new Set(["indexed", "failed", "deleted"]);

/** Each document's status, "deleted" when it has no record any more. */
export async function documentStatuses(runtime: Runtime, ids: readonly string[]): Promise<Record<string, string>> {
  const entries = await Promise.all(ids.map(async (id) => [id, await getDocument({ store: runtime.store }, id).then((d) => d.status as string, () => "deleted")] as const));
  return Object.fromEntries(entries);
}

/** Undefined until every document is in a terminal state; then their statuses. For until(). */
export async function allTerminal(runtime: Runtime, ids: readonly string[]): Promise<Record<string, string> | undefined> {
  const statuses = await documentStatuses(runtime, ids);
  return Object.values(statuses).every((s) => TERMINAL.has(s)) ? statuses : undefined;
}

/** Chunks the live manifests name that the index lacks, and index ids held twice or named by no live manifest. */
export async function corpusDamage(runtime: Runtime): Promise<{ lost: number; duplicates: number }> {
  const manifests = await readManifests(runtime.store, profileKey(runtime.config));
  const expected = new Set(manifests.flatMap((m) => m.chunks.map((c) => c.hash)));
  const held = await listIndexIds(await runtime.index());
  const heldSet = new Set(held);
  const lost = [...expected].filter((h) => !heldSet.has(h)).length;
  const orphans = [...heldSet].filter((h) => !expected.has(h)).length;
  return { lost, duplicates: held.length - heldSet.size + orphans };
}

/** Reconcile finds nothing: the indexes, the registry and the documents agree with the manifests. */
export async function expectReconcileClean(runtime: Runtime): Promise<ReconcileReport> {
  const report = await runReconcile(runtime, {});
  expect(report.findings, "reconcile findings").toEqual([]);
  expect(report.clean).toBe(true);
  return report;
}

/** Data lost and duplicates as reconcile counts them, over every version it checked. Pure. */
export function reconcileDamage(report: ReconcileReport): { lost: number; duplicates: number } {
  return { lost: report.counts.missing, duplicates: report.counts.duplicate + report.counts.orphan };
}
