import type { ChunkingConfig, Config } from "../../config/schema.js";
import type { ParsePool } from "../../ingest/parsers/isolated.js";
import type { ZipLimits } from "../../ingest/parsers/zip-guard.js";
import { UnprocessableDocumentError } from "../../core/errors.js";
import { manifestChunks, type DocumentManifest, type SourceFingerprint } from "./manifest.js";

/**
 * The one way stored bytes become a document's manifests, for ingest jobs and
 * index builds alike: parsed under every ingest limit and chunked with each
 * profile's chunking config, in the parse pool. A rebuild therefore treats a
 * document exactly as its upload did (they once drifted: builds parsed
 * without the zip-bomb limits).
 */
export interface StoredDocument {
  documentId: string;
  /** The document version these bytes are. */
  version: number;
  rawKey: string;
  filename?: string;
  /** What the client claimed; the parser trusts the bytes. */
  contentType: string;
  metadata: { source: string; title?: string; tags: string[]; date?: string };
  fingerprint: SourceFingerprint;
}

/** A chunking profile to produce a manifest for. */
export interface ManifestProfile {
  profile: string;
  chunking: ChunkingConfig;
}

function zipLimitsOf(ingest: Config["ingest"]): ZipLimits {
  return { maxEntries: ingest.zipMaxEntries, maxUncompressedBytes: ingest.zipMaxUncompressedBytes };
}

/** One manifest per profile, in the order given; the bytes are parsed once. */
export async function manifestsOf(parser: ParsePool, ingest: Config["ingest"], doc: StoredDocument, bytes: Buffer, profiles: readonly ManifestProfile[]): Promise<DocumentManifest[]> {
  if (profiles.length === 0) return [];
  // Parsed and chunked in the parse pool: a 45 MB text takes seconds to chunk, which the job's event loop must not spend.
  const prepared = await parser.prepare(bytes, {
    filename: doc.filename,
    contentType: doc.contentType,
    zipLimits: zipLimitsOf(ingest),
    meta: { documentId: doc.documentId, version: doc.version, ...doc.metadata },
    chunking: profiles.map((p) => p.chunking),
  });
  const indexedAt = new Date().toISOString();
  return profiles.map(({ profile }, i) => {
    const chunks = prepared.chunks[i] ?? [];
    const first = chunks[0];
    if (!first) throw new UnprocessableDocumentError("the document has no text to index");
    return {
      documentId: doc.documentId,
      version: doc.version,
      profile,
      source: doc.metadata.source,
      rawKey: doc.rawKey,
      fingerprint: doc.fingerprint,
      title: first.title,
      contentType: prepared.contentType,
      tags: first.tags,
      ...(first.date ? { date: first.date } : {}),
      chunks: manifestChunks(chunks),
      indexedAt,
    };
  });
}
