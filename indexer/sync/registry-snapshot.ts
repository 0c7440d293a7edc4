import type { Redis } from "ioredis";
import { bandKeys, decodeSignature, minhash, type MinHashOptions } from "../../ingest/dedupe/minhash.js";
import type { Pause } from "../../core/yield.js";
import { nearDuplicateMatcher } from "./classify.js";
import type { ChunkRecord } from "./chunk-store.js";
import { primaryDocument } from "./diff.js";
import type { DocumentManifest, ManifestChunk } from "./manifest.js";
import { documentsReaching, numericOf, recordOf, restrictsOf, type Metadata } from "./metadata.js";
import type { DocMeta } from "./registry.js";

/**
 * The chunk registry of one profile as one value: what the manifests say it
 * must be (deriveRegistry, for a rebuild), or what Redis holds
 * (readRegistrySnapshot, for reconcile). From it, wantedMetadata says what
 * each indexed chunk's restricts and chunk store entry must be, as sync
 * computes them (metadata.ts), without a sync context.
 */
export interface RegistrySnapshot {
  /** Chunks each document references. */
  docRefs: Map<string, Set<string>>;
  /** Documents referencing each chunk. */
  refs: Map<string, Set<string>>;
  /** Indexed (canonical) chunks, with their MinHash signatures. */
  canonical: Map<string, Uint32Array>;
  /** Near-duplicate links: chunk → the canonical chunk it duplicates. */
  dupOf: Map<string, string>;
  /** Tags and content type of each document, for restricts. */
  docMeta: Map<string, DocMeta>;
}

export interface DeriveRule {
  minhash: MinHashOptions;
  threshold: number;
  nearDuplicates: boolean;
}

/** Manifests by document id, in id order. */
export function byDocument(manifests: readonly DocumentManifest[]): Map<string, DocumentManifest> {
  return new Map([...manifests].sort((a, b) => (a.documentId < b.documentId ? -1 : a.documentId > b.documentId ? 1 : 0)).map((m) => [m.documentId, m]));
}

/**
 * The registry the manifests imply. References and document metadata are the
 * manifests'. Which chunks are canonical follows the indexes where they have
 * a say: a chunk an index holds is canonical (its datapoint must not be left
 * behind by linking it away); every other chunk, in hash order, is a
 * near-duplicate of the canonical chunk it matches, as sync matches
 * (classify.ts), or canonical itself. Pure but for the pauses it takes.
 */
export async function deriveRegistry(manifests: readonly DocumentManifest[], held: (hash: string) => boolean, rule: DeriveRule, pause: Pause = () => undefined): Promise<RegistrySnapshot> {
  const docs = byDocument(manifests);
  const docRefs = new Map<string, Set<string>>();
  const refs = new Map<string, Set<string>>();
  const docMeta = new Map<string, DocMeta>();
  const texts = new Map<string, string>(); // as the smallest document holding it has it
  for (const [documentId, manifest] of docs) {
    docRefs.set(documentId, new Set(manifest.chunks.map((c) => c.hash)));
    docMeta.set(documentId, { tags: manifest.tags, contentType: manifest.contentType });
    for (const chunk of manifest.chunks) {
      let holders = refs.get(chunk.hash);
      if (!holders) refs.set(chunk.hash, (holders = new Set()));
      holders.add(documentId);
      if (!texts.has(chunk.hash)) texts.set(chunk.hash, chunk.text);
    }
  }
  const hashes = [...texts.keys()].sort();
  const canonical = new Map<string, Uint32Array>();
  const dupOf = new Map<string, string>();
  const signatureOf = async (hash: string) => {
    await pause();
    return minhash(texts.get(hash) as string, rule.minhash);
  };
  for (const hash of hashes) if (held(hash) || !rule.nearDuplicates) canonical.set(hash, await signatureOf(hash));
  const unplaced = hashes.filter((h) => !canonical.has(h));
  const items = [];
  for (const hash of unplaced) items.push({ hash, signature: await signatureOf(hash) });
  const buckets = new Map<string, string[]>();
  for (const [hash, signature] of canonical) {
    for (const band of bandKeys(signature, rule.minhash.bands)) buckets.set(band, [...(buckets.get(band) ?? []), hash]);
  }
  const bandLists = items.map((item) => bandKeys(item.signature, rule.minhash.bands));
  const candidateSets = bandLists.map((bands) => new Set(bands.flatMap((band) => buckets.get(band) ?? [])));
  const match = nearDuplicateMatcher({ items, bandLists, candidateSets, signatures: canonical }, { threshold: rule.threshold, exclude: new Set() });
  for (const [i, item] of items.entries()) {
    await pause();
    const found = match(i);
    if (found) dupOf.set(item.hash, found);
    else canonical.set(item.hash, item.signature);
  }
  return { docRefs, refs, canonical, dupOf, docMeta };
}

/** Each canonical chunk's near-duplicates. Pure. */
export function duplicatesByCanonical(dupOf: ReadonlyMap<string, string>): Map<string, Set<string>> {
  const out = new Map<string, Set<string>>();
  for (const [hash, canonical] of dupOf) {
    let set = out.get(canonical);
    if (!set) out.set(canonical, (set = new Set()));
    set.add(hash);
  }
  return out;
}

/** A chunk as a document's manifest has it, or as the first other referencing document (by id) has it. Pure. */
function chunkAsHeld(docs: ReadonlyMap<string, DocumentManifest>, snapshot: RegistrySnapshot, documentId: string | undefined, hash: string) {
  const order = [...(documentId ? [documentId] : []), ...[...(snapshot.refs.get(hash) ?? [])].sort()];
  for (const doc of order) {
    const manifest = docs.get(doc);
    const chunk = manifest?.chunks.find((c: ManifestChunk) => c.hash === hash);
    if (manifest && chunk) return { documentId: doc, chunk, manifest };
  }
  return undefined;
}

/**
 * What each of these indexed chunks' restricts and chunk store entry must be,
 * by the registry and the manifests: the same values sync writes
 * (metadata.ts). Pure.
 */
export function wantedMetadata(snapshot: RegistrySnapshot, docs: ReadonlyMap<string, DocumentManifest>, hashes: Iterable<string>): Map<string, Metadata> {
  const duplicates = duplicatesByCanonical(snapshot.dupOf);
  const out = new Map<string, Metadata>();
  for (const hash of hashes) {
    const restricts = restrictsOf(documentsReaching(hash, snapshot.refs, duplicates, snapshot.refs), snapshot.docMeta);
    const primary = primaryDocument(snapshot.refs.get(hash) ?? []);
    const found = chunkAsHeld(docs, snapshot, primary, hash);
    out.set(hash, { restricts, numericRestricts: numericOf(found?.manifest.date), record: recordOf(found, primary ?? "", restricts) });
  }
  return out;
}

/** What Redis holds of a profile's registry beyond a snapshot: the LSH buckets and each canonical chunk's near-duplicates, to check them against the rest. */
export interface StoredRegistry extends RegistrySnapshot {
  lsh: Map<string, Set<string>>;
  dups: Map<string, Set<string>>;
}

/** Keys per SCAN step and commands per pipeline while reading a whole registry. */
const BATCH = 1_000;

/** Reads a profile's whole registry from Redis (reconcile; never on a sync's path). `prefix` is the profile's registry prefix. */
export async function readRegistrySnapshot(redis: Redis, prefix: string): Promise<StoredRegistry> {
  const p = `${prefix}:`;
  const families = { docrefs: [] as string[], ref: [] as string[], sig: [] as string[], lsh: [] as string[], dups: [] as string[] };
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${p}*`, "COUNT", BATCH);
    cursor = next;
    for (const key of keys) {
      const rest = key.slice(p.length);
      const colon = rest.indexOf(":");
      const family = colon < 0 ? rest : rest.slice(0, colon);
      if (family in families) families[family as keyof typeof families].push(rest.slice(colon + 1));
    }
  } while (cursor !== "0");
  const members = async (family: string, names: readonly string[]) => {
    const out = new Map<string, Set<string>>();
    for (let i = 0; i < names.length; i += BATCH) {
      const slice = names.slice(i, i + BATCH);
      const results = (await redis.pipeline(slice.map((name) => ["smembers", `${p}${family}:${name}`])).exec()) ?? [];
      slice.forEach((name, k) => out.set(name, new Set((results[k]?.[1] as string[] | undefined) ?? [])));
    }
    return out;
  };
  const canonical = new Map<string, Uint32Array>();
  for (let i = 0; i < families.sig.length; i += BATCH) {
    const slice = families.sig.slice(i, i + BATCH);
    const values = await redis.mgetBuffer(...slice.map((h) => `${p}sig:${h}`));
    slice.forEach((h, k) => {
      const value = values[k];
      if (value) canonical.set(h, decodeSignature(value));
    });
  }
  const docMeta = new Map(Object.entries(await redis.hgetall(`${p}docmeta`)).map(([doc, json]) => [doc, JSON.parse(json) as DocMeta]));
  return {
    docRefs: await members("docrefs", families.docrefs),
    refs: await members("ref", families.ref),
    canonical,
    dupOf: new Map(Object.entries(await redis.hgetall(`${p}dupof`))),
    docMeta,
    lsh: await members("lsh", families.lsh),
    dups: await members("dups", families.dups),
  };
}

/** Every entry of a profile's chunk store (reconcile). */
export async function readChunkStore(redis: Redis, prefix: string): Promise<Map<string, ChunkRecord>> {
  const out = new Map<string, ChunkRecord>();
  let cursor = "0";
  do {
    const [next, flat] = await redis.hscan(`${prefix}:chunks`, cursor, "COUNT", BATCH);
    cursor = next;
    for (let i = 0; i < flat.length; i += 2) out.set(flat[i] as string, JSON.parse(flat[i + 1] as string) as ChunkRecord);
  } while (cursor !== "0");
  return out;
}
