import { minhash, type MinHashOptions } from "../../ingest/dedupe/minhash.js";
import type { TermCounts } from "../sparse/analyze.js";
import { UnavailableError } from "../../core/errors.js";
import type { Pause } from "../../core/yield.js";
import type { CommitSession } from "./commit-group.js";
import type { CorpusLease } from "./corpus-lock.js";
import { readManifest, type DocumentManifest, type ManifestChunk } from "./manifest.js";
import type { SyncCounts, SyncDeps } from "./sync-document.js";

/** Chunks per Redis pipeline, embedding call or index call of one step: a large document is many short steps, not one long block. */
export const SLICE = 1_000;

/** What the steps of one document's sync share. */
export interface SyncContext {
  deps: SyncDeps;
  /** Set once the corpus lease is taken; every write below needs it. */
  lease?: CorpusLease;
  /** The commit group the document writes in, once the lease is taken. */
  session?: CommitSession;
  /** The document being synced, and its new state. */
  d: string;
  next: DocumentManifest | null;
  byHash: Map<string, ManifestChunk>;
  /** Vectors by target version, then chunk hash. */
  vectors: Map<string, Map<string, Float32Array>>;
  counts: SyncCounts;
  minhash: MinHashOptions;
  /** Other documents' manifests read during this sync. */
  manifests: Map<string, DocumentManifest | undefined>;
  /** MinHash signatures computed during this sync, by chunk hash: the preview before the lock and the classification under it share them. */
  signatures: Map<string, Uint32Array>;
  /** BM25 terms of chunks counted during this sync, by chunk hash: each chunk is analysed once whatever the number of versions it is written to. */
  terms: Map<string, TermCounts>;
  /** Lets the event loop in during loops over thousands of chunks. */
  pause: Pause;
}

export interface Signed {
  hash: string;
  signature: Uint32Array;
}

/** Chunks with their MinHash signatures, each computed once per sync. */
export async function signed(ctx: SyncContext, chunks: readonly ManifestChunk[]): Promise<Signed[]> {
  const out: Signed[] = [];
  for (const chunk of chunks) {
    await ctx.pause();
    let signature = ctx.signatures.get(chunk.hash);
    if (!signature) ctx.signatures.set(chunk.hash, (signature = minhash(chunk.text, ctx.minhash)));
    out.push({ hash: chunk.hash, signature });
  }
  return out;
}

export interface FoundChunk {
  documentId: string;
  chunk: ManifestChunk;
  manifest: DocumentManifest | undefined;
}

/** A chunk as one document has it: the document being synced from memory, others from their manifests. */
export async function chunkOf(ctx: SyncContext, documentId: string, h: string): Promise<FoundChunk | undefined> {
  const local = documentId === ctx.d ? ctx.byHash.get(h) : undefined;
  if (local) return { documentId, chunk: local, manifest: ctx.next ?? undefined };
  const fromManifest = async (doc: string) => {
    if (doc === ctx.d && ctx.next) return ctx.next.chunks.find((c) => c.hash === h) ? { documentId: doc, chunk: ctx.byHash.get(h) as ManifestChunk, manifest: ctx.next } : undefined;
    // A document synced earlier in the same commit group has its manifest in the group, not yet in the store.
    const inGroup = ctx.session?.manifests;
    if (!ctx.manifests.has(doc)) ctx.manifests.set(doc, inGroup?.has(doc) ? (inGroup.get(doc) ?? undefined) : await readManifest(ctx.deps.store, ctx.deps.profile, doc));
    const manifest = ctx.manifests.get(doc);
    const chunk = manifest?.chunks.find((c) => c.hash === h);
    return chunk ? { documentId: doc, chunk, manifest } : undefined;
  };
  const found = await fromManifest(documentId);
  if (found) return found;
  // A near-duplicate's text may only be in another referencing document.
  for (const doc of [...((await ctx.deps.registry.refs([h])).get(h) ?? [])].sort()) {
    if (doc === documentId) continue;
    const other = await fromManifest(doc);
    if (other) return other;
  }
  return undefined;
}

/** Fails the job (to be retried) when the corpus lease was lost: checked right before each index write, which the index cannot fence itself. */
export async function ensureHeld(ctx: SyncContext): Promise<void> {
  if (!(await ctx.lease?.held())) throw new UnavailableError("the corpus lock was lost before an index write; the job will retry");
}
