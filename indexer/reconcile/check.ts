import { isDeepStrictEqual } from "node:util";
import { bandKeys } from "../../ingest/dedupe/minhash.js";
import type { StoredRestricts } from "../indexes/vector-index.js";
import type { ChunkRecord } from "../sync/chunk-store.js";
import type { DocumentManifest } from "../sync/manifest.js";
import type { Metadata } from "../sync/metadata.js";
import { duplicatesByCanonical, wantedMetadata, type RegistrySnapshot, type StoredRegistry } from "../sync/registry-snapshot.js";
import type { IndexFinding, RegistryFinding } from "./findings.js";

/**
 * The decisions of a reconcile, as pure functions over what was read: the
 * manifests (by document), the registry as Redis holds it, the chunk store,
 * and per index version what it holds. reconcile.ts reads and repairs.
 */

/** Each chunk's referencing documents, as the manifests say. Pure. */
export function manifestRefs(docs: ReadonlyMap<string, DocumentManifest>): Map<string, Set<string>> {
  const refs = new Map<string, Set<string>>();
  for (const [documentId, manifest] of docs) {
    for (const chunk of manifest.chunks) {
      let set = refs.get(chunk.hash);
      if (!set) refs.set(chunk.hash, (set = new Set()));
      set.add(documentId);
    }
  }
  return refs;
}

const sorted = (set: Iterable<string>) => [...set].sort();
const sameSet = (a: ReadonlySet<string> | undefined, b: ReadonlySet<string> | undefined) => isDeepStrictEqual(sorted(a ?? []), sorted(b ?? []));
const few = (items: readonly string[]) => (items.length > 3 ? `${items.slice(0, 3).join(", ")} and ${items.length - 3} more` : items.join(", "));

/**
 * Where the registry and chunk store of a profile differ from its manifests:
 * each document's references and tags/content type, each referenced chunk
 * placed (indexed, or a near-duplicate of an indexed chunk, never both), no
 * leftovers of chunks nothing references, LSH buckets and near-duplicate sets
 * that follow the signatures and links, and each indexed chunk's chunk store
 * entry as sync writes it. Pure.
 */
export function checkRegistry(profile: string, docs: ReadonlyMap<string, DocumentManifest>, stored: StoredRegistry, entries: ReadonlyMap<string, ChunkRecord>, bands: number): RegistryFinding[] {
  const out: RegistryFinding[] = [];
  const add = (what: RegistryFinding["what"], id: string, detail: string) => out.push({ kind: "registry", profile, what, id, detail });
  const refs = manifestRefs(docs);

  for (const [documentId, manifest] of docs) {
    const want = new Set(manifest.chunks.map((c) => c.hash));
    const held = stored.docRefs.get(documentId) ?? new Set<string>();
    const lacking = [...want].filter((h) => !held.has(h));
    const extra = [...held].filter((h) => !want.has(h));
    if (lacking.length || extra.length) add("references", documentId, `the registry's references of document ${documentId} lack ${lacking.length} and have ${extra.length} chunks its manifest does not`);
    const meta = stored.docMeta.get(documentId);
    const wanted = { tags: manifest.tags, contentType: manifest.contentType };
    if (!isDeepStrictEqual(meta, wanted)) add("document-metadata", documentId, `the registry has ${JSON.stringify(meta ?? null)}, the manifest ${JSON.stringify(wanted)}`);
  }
  for (const documentId of stored.docRefs.keys()) if (!docs.has(documentId)) add("references", documentId, `document ${documentId} has references in the registry but no manifest`);
  for (const documentId of stored.docMeta.keys()) if (!docs.has(documentId)) add("document-metadata", documentId, `document ${documentId} has tags and content type in the registry but no manifest`);

  for (const [hash, documents] of refs) {
    if (!sameSet(stored.refs.get(hash), documents)) add("references", hash, `referenced by [${few(sorted(stored.refs.get(hash) ?? []))}] in the registry, by [${few(sorted(documents))}] in the manifests`);
    const canonical = stored.canonical.has(hash);
    const link = stored.dupOf.get(hash);
    if (canonical && link) add("placement", hash, `both indexed and a near-duplicate of ${link}`);
    else if (!canonical && !link) add("placement", hash, "neither indexed nor a near-duplicate of an indexed chunk");
    else if (link && !stored.canonical.has(link)) add("placement", hash, `a near-duplicate of ${link}, which is not indexed`);
  }
  for (const hash of stored.refs.keys()) if (!refs.has(hash)) add("leftover", hash, `referenced by [${few(sorted(stored.refs.get(hash) ?? []))}] in the registry, by no manifest`);
  for (const hash of stored.canonical.keys()) if (!refs.has(hash)) add("leftover", hash, "marked indexed, but no manifest references it");
  for (const hash of stored.dupOf.keys()) if (!refs.has(hash)) add("leftover", hash, "linked as a near-duplicate, but no manifest references it");

  // LSH buckets and near-duplicate sets are derived from the signatures and links: checked per chunk.
  const buckets = new Map<string, Set<string>>();
  for (const [hash, signature] of stored.canonical) {
    for (const band of bandKeys(signature, bands)) {
      let set = buckets.get(band);
      if (!set) buckets.set(band, (set = new Set()));
      set.add(hash);
    }
  }
  const lshOff = new Set<string>();
  for (const band of new Set([...buckets.keys(), ...stored.lsh.keys()])) {
    const want = buckets.get(band) ?? new Set<string>();
    const held = stored.lsh.get(band) ?? new Set<string>();
    for (const hash of want) if (!held.has(hash)) lshOff.add(hash);
    for (const hash of held) if (!want.has(hash)) lshOff.add(hash);
  }
  for (const hash of lshOff) add("lsh", hash, stored.canonical.has(hash) ? "missing from or misplaced in the LSH buckets of its signature" : "in LSH buckets but not marked indexed");
  const dups = duplicatesByCanonical(stored.dupOf);
  for (const canonical of new Set([...dups.keys(), ...stored.dups.keys()])) {
    if (!sameSet(dups.get(canonical), stored.dups.get(canonical))) add("placement", canonical, "its set of near-duplicates differs from their links");
  }

  const indexed = [...stored.canonical.keys()].filter((h) => refs.has(h));
  const wanted = wantedMetadata({ ...stored, refs }, docs, indexed);
  for (const hash of indexed) {
    const entry = entries.get(hash);
    if (!entry) add("chunk-store", hash, "indexed, but has no chunk store entry (search leaves it out)");
    else if (!isDeepStrictEqual(entry, wanted.get(hash)?.record)) add("chunk-store", hash, "its chunk store entry differs from what the manifests say");
  }
  const indexedSet = new Set(indexed);
  for (const hash of entries.keys()) if (!indexedSet.has(hash)) add("chunk-store", hash, "has a chunk store entry but is not an indexed, referenced chunk");
  return out;
}

/** What one index version holds, as read for a reconcile. */
export interface HeldIndex {
  version: string;
  /** Every id the index holds, a repeated id once per row; undefined when the index cannot list its ids (orphans are then looked for among the ids the stores know). */
  listed?: readonly string[];
  /** Restricts of the datapoints it holds, among the ids asked. */
  held: ReadonlyMap<string, StoredRestricts>;
}

/** What the index versions of a profile must hold: its indexed, referenced chunks with their metadata; and every referenced chunk. */
export interface WantedIndex {
  /** Referenced chunks the registry (or the rebuild about to run) marks indexed. */
  indexed: ReadonlySet<string>;
  /** Every chunk a manifest references. */
  referenced: ReadonlySet<string>;
  /** Near-duplicate links of referenced chunks that are not indexed. */
  dupOf: ReadonlyMap<string, string>;
  metadata: ReadonlyMap<string, Metadata>;
}

/** The wanted state of a profile's indexes, from a registry snapshot (as stored when it is sound, or as a rebuild would write it) and the manifests. Pure. */
export function wantedIndex(view: RegistrySnapshot, docs: ReadonlyMap<string, DocumentManifest>): WantedIndex {
  const referenced = new Set(manifestRefs(docs).keys());
  const indexed = new Set([...view.canonical.keys()].filter((h) => referenced.has(h)));
  return { indexed, referenced, dupOf: view.dupOf, metadata: wantedMetadata(view, docs, indexed) };
}

/**
 * Where one index version differs from what it must hold: indexed chunks it
 * lacks, datapoints no manifest references (orphans), ids held in several
 * rows and near-duplicates held beside the chunk that stands in for them
 * (duplicates), and restricts that differ from the wanted ones. `cached`
 * says which missing chunks the embedding cache holds a vector for. Pure.
 */
export function checkIndex(profile: string, index: HeldIndex, wanted: WantedIndex, cached: ReadonlySet<string>): IndexFinding[] {
  const out: IndexFinding[] = [];
  const { version, held } = index;
  const rows = new Map<string, number>();
  for (const id of index.listed ?? held.keys()) rows.set(id, (rows.get(id) ?? 0) + 1);
  const present = (id: string) => held.has(id) || rows.has(id);
  for (const id of sorted(wanted.indexed)) if (!present(id)) out.push({ kind: "missing", profile, version, id, cached: cached.has(id) });
  for (const id of sorted(new Set([...rows.keys(), ...held.keys()]))) {
    if (!wanted.referenced.has(id)) out.push({ kind: "orphan", profile, version, id });
    else if (!wanted.indexed.has(id)) out.push({ kind: "duplicate", profile, version, id, nearDuplicateOf: wanted.dupOf.get(id) ?? "?" });
    else if ((rows.get(id) ?? 1) > 1) out.push({ kind: "duplicate", profile, version, id, rows: rows.get(id) as number });
    else {
      const stored = held.get(id);
      const metadata = wanted.metadata.get(id) as Metadata;
      const want = { restricts: metadata.restricts, numericRestricts: metadata.numericRestricts };
      if (stored && !isDeepStrictEqual(stored, want)) out.push({ kind: "stale-restricts", profile, version, id, held: stored, wanted: want });
    }
  }
  return out;
}
