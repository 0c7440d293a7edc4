import type { StoredRestricts } from "../indexes/vector-index.js";

/**
 * What a reconcile finds: each way the stores can disagree with the
 * manifests (the durable record of what each document contributes), and the
 * repair that fixes it. Plain data: the CLI prints it, a job returns it, the
 * scheduled run logs it.
 */
export type Finding = IndexFinding | RegistryFinding | StuckFinding;

interface IndexFindingBase {
  profile: string;
  version: string;
  /** The datapoint (chunk hash). */
  id: string;
}

export type IndexFinding =
  /** An indexed chunk the version's index lacks; `cached`: the embedding cache holds its vector (else it is embedded again). */
  | (IndexFindingBase & { kind: "missing"; cached: boolean })
  /** A datapoint no manifest references. */
  | (IndexFindingBase & { kind: "orphan" })
  /** The id held in several rows (`rows`), or a near-duplicate held beside the chunk that stands in for it (`nearDuplicateOf`). */
  | (IndexFindingBase & { kind: "duplicate"; rows?: number; nearDuplicateOf?: string })
  /** Restricts that differ from what the manifests and the registry say. */
  | (IndexFindingBase & { kind: "stale-restricts"; held: StoredRestricts; wanted: StoredRestricts });

/** The chunk registry or chunk store of a profile differs from its manifests. */
export interface RegistryFinding {
  kind: "registry";
  profile: string;
  /** What is wrong: a document's references, a chunk's placement, an LSH bucket, a chunk store entry. */
  what: "references" | "document-metadata" | "placement" | "leftover" | "lsh" | "chunk-store";
  /** The document or chunk concerned. */
  id: string;
  detail: string;
}

/** A document in a state only a job moves it out of (processing, deleting), with no live job. */
export interface StuckFinding {
  kind: "stuck";
  documentId: string;
  status: string;
  version: number;
  jobId: string;
  /** The job's state, or "gone" when the queue no longer has it. */
  jobState: string;
}

export type FindingKind = Finding["kind"];
export const FINDING_KINDS: readonly FindingKind[] = ["missing", "orphan", "duplicate", "stale-restricts", "registry", "stuck"];

/** What a repair does about a finding, in words (the dry run's plan). Pure. */
export function repairOf(finding: Finding): string {
  switch (finding.kind) {
    case "missing":
      return finding.cached ? "upsert, vector from the embedding cache" : "embed again, then upsert";
    case "orphan":
      return "remove the datapoint";
    case "duplicate":
      return finding.nearDuplicateOf ? `remove the datapoint (${short(finding.nearDuplicateOf)} stands in for it)` : "remove every row, upsert once from the embedding cache";
    case "stale-restricts":
      return "rewrite the restricts";
    case "registry":
      return "rebuild the profile's registry and chunk store from its manifests";
    case "stuck":
      return `queue a new ${finding.status === "deleting" ? "delete" : "ingest"} job for version ${finding.version}`;
  }
}

/** A finding in one line, without its repair. Pure. */
export function describeFinding(finding: Finding): string {
  switch (finding.kind) {
    case "missing":
      return `${finding.version}: ${short(finding.id)} is indexed by the registry but missing from the index${finding.cached ? "" : " (no cached vector)"}`;
    case "orphan":
      return `${finding.version}: ${short(finding.id)} is in the index but no manifest references it`;
    case "duplicate":
      return finding.nearDuplicateOf
        ? `${finding.version}: ${short(finding.id)} is a near-duplicate of ${short(finding.nearDuplicateOf)} but is indexed too`
        : `${finding.version}: ${short(finding.id)} is held in ${finding.rows} rows`;
    case "stale-restricts":
      return `${finding.version}: ${short(finding.id)} restricts ${restrictsDiff(finding.held, finding.wanted)}`;
    case "registry":
      return `profile ${finding.profile}: ${finding.what} of ${short(finding.id)}: ${finding.detail}`;
    case "stuck":
      return `document ${finding.documentId} is ${finding.status} (version ${finding.version}) but its job ${finding.jobId} is ${finding.jobState}`;
  }
}

/** A chunk hash is 64 hex characters; 12 name it in a report. */
export function short(id: string): string {
  return /^[0-9a-f]{64}$/.test(id) ? id.slice(0, 12) : id;
}

/** Which namespaces differ, and how. Pure. */
export function restrictsDiff(held: StoredRestricts, wanted: StoredRestricts): string {
  const parts: string[] = [];
  for (const ns of Object.keys(wanted.restricts) as Array<keyof StoredRestricts["restricts"]>) {
    const a = JSON.stringify(held.restricts[ns] ?? []);
    const b = JSON.stringify(wanted.restricts[ns]);
    if (a !== b) parts.push(`${ns} ${a} should be ${b}`);
  }
  const a = JSON.stringify(held.numericRestricts);
  const b = JSON.stringify(wanted.numericRestricts);
  if (a !== b) parts.push(`numeric ${a} should be ${b}`);
  return parts.join("; ") || "differ";
}
