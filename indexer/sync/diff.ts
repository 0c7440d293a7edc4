/** What changes for one document: chunk hashes added, kept and dropped. Pure. */
export interface ChunkDiff {
  added: string[];
  unchanged: string[];
  removed: string[];
}

export function diffChunks(previous: ReadonlySet<string>, next: readonly string[]): ChunkDiff {
  const nextSet = new Set(next);
  return {
    added: next.filter((h) => !previous.has(h)),
    unchanged: next.filter((h) => previous.has(h)),
    removed: [...previous].filter((h) => !nextSet.has(h)).sort(),
  };
}

/** The document that speaks for a shared chunk in search results: the smallest id, so it does not depend on ingest order. */
export function primaryDocument(documentIds: Iterable<string>): string | undefined {
  let best: string | undefined;
  for (const id of documentIds) if (best === undefined || id < best) best = id;
  return best;
}
