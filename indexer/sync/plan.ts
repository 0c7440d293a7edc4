/**
 * What a refresh does with each file of a source, from the listing and the
 * fingerprints of what is indexed. Pure: no I/O.
 */
export interface ListedFile {
  uri: string;
  documentId: string;
  size: number;
  mtimeMs?: number;
  generation?: string;
}

export interface IndexedFingerprint {
  documentId: string;
  source: string;
  size?: number;
  mtimeMs?: number;
  generation?: string;
  sha256?: string;
}

export interface RefreshPlan {
  added: ListedFile[];
  /** Same size and modification time (or generation): unchanged, not even read. */
  unchanged: ListedFile[];
  /** Fingerprint differs: read, and compared by content hash. */
  suspect: ListedFile[];
  /** Indexed from this source but no longer listed. */
  deleted: string[];
}

export function planRefresh(listed: readonly ListedFile[], indexed: readonly IndexedFingerprint[]): RefreshPlan {
  const byId = new Map(indexed.map((f) => [f.documentId, f]));
  const plan: RefreshPlan = { added: [], unchanged: [], suspect: [], deleted: [] };
  const seen = new Set<string>();
  for (const file of listed) {
    seen.add(file.documentId);
    const known = byId.get(file.documentId);
    if (!known) plan.added.push(file);
    else if (sameFingerprint(file, known)) plan.unchanged.push(file);
    else plan.suspect.push(file);
  }
  for (const f of indexed) if (!seen.has(f.documentId)) plan.deleted.push(f.documentId);
  plan.deleted.sort();
  return plan;
}

function sameFingerprint(file: ListedFile, known: IndexedFingerprint): boolean {
  if (known.size !== file.size) return false;
  if (file.generation !== undefined) return known.generation === file.generation;
  return file.mtimeMs !== undefined && known.mtimeMs === file.mtimeMs;
}
