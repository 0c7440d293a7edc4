import { compareAndSwap, type RecordCodec } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { flushAliasJournal } from "./alias.js";

/**
 * The audit log: append-only JSON Lines in the object store, one segment per
 * day (`audit/2026-11-24.jsonl`). An append is a compare-and-swap of that day's
 * segment, retried on a lost race, so concurrent writers never lose an entry.
 */
export type AuditAction = "create" | "build-end" | "evaluate" | "swap" | "rollback" | "retire" | "forced-promotion";

export interface AuditEntry {
  /** Set on entries journaled in the alias first (swap, rollback), so writing one twice appends it once. */
  id?: string;
  at: string;
  /** Who: the API token's name, or "cli:<user>". */
  actor: string;
  action: AuditAction;
  version?: string;
  from?: string | null;
  to?: string | null;
  reportId?: string;
  reason?: string;
}

const segmentKey = (day: string) => `audit/${day}.jsonl`;

const SEGMENT: RecordCodec<string> = { contentType: "application/x-ndjson", decode: (body) => body.toString("utf8"), encode: (text) => text };

export async function appendAudit(store: ObjectStore, entry: Omit<AuditEntry, "at"> & { at?: string }): Promise<AuditEntry> {
  const record: AuditEntry = { ...entry, at: entry.at ?? new Date().toISOString() };
  // Every operator action appends to one segment a day: allow more lost races than a single record's writers cause.
  const marker = record.id ? `"id":${JSON.stringify(record.id)}` : undefined;
  await compareAndSwap(
    store,
    segmentKey(record.at.slice(0, 10)),
    SEGMENT,
    (existing) => (marker && existing?.includes(marker) ? undefined : `${existing ?? ""}${JSON.stringify(record)}\n`),
    { maxAttempts: 50 },
  );
  return record;
}

export interface AuditPage {
  entries: AuditEntry[];
  /** Pass back as `after` for the next page; absent on the last page. */
  next?: string;
}

/** Entries oldest first; `after` is a cursor from an earlier page ("<day>:<line>"). */
export async function listAudit(store: ObjectStore, options: { after?: string; limit?: number } = {}): Promise<AuditPage> {
  // An alias change whose process died before its audit append: its entry is in the alias journal, appended now.
  await flushAliasJournal(store).catch(() => undefined);
  const limit = options.limit ?? 100;
  const [afterDay, afterLine] = options.after ? [options.after.slice(0, 10), Number(options.after.slice(11))] : [undefined, -1];
  const entries: AuditEntry[] = [];
  let cursor: string | undefined;
  for await (const meta of store.list("audit/")) {
    const day = meta.key.slice("audit/".length, "audit/".length + 10);
    if (afterDay && day < afterDay) continue;
    const text = (await store.get(meta.key)).body.toString("utf8");
    const lines = text.split("\n").filter(Boolean);
    for (let i = 0; i < lines.length; i += 1) {
      if (day === afterDay && i <= afterLine) continue;
      if (entries.length === limit) return { entries, next: cursor };
      entries.push(JSON.parse(lines[i] as string) as AuditEntry);
      cursor = `${day}:${i}`;
    }
  }
  return { entries };
}
