/** The typed shapes a document takes on its way to chunks. */

export interface DocumentMeta {
  documentId: string;
  version: number;
  /** Where the document came from: an upload's file name, a path, a URI. */
  source: string;
  contentType: string;
  title?: string;
  tags: string[];
  /** ISO date of the document, when known. */
  date?: string;
}

export interface Section {
  /** Headings from the top of the document down to this section, e.g. ["Install", "Linux"]. */
  headingPath: string[];
  text: string;
  /** Offsets of `text` in the parsed document's text. */
  charStart: number;
  charEnd: number;
  page?: number;
}

export interface ParsedDocument {
  title?: string;
  /** Metadata the document declared about itself (front matter). */
  declared: { title?: string; tags?: string[]; date?: string };
  text: string;
  sections: Section[];
}

export interface Chunk {
  documentId: string;
  version: number;
  ordinal: number;
  text: string;
  tokenCount: number;
  charStart: number;
  charEnd: number;
  headingPath: string[];
  pageStart?: number;
  pageEnd?: number;
  title: string;
  source: string;
  contentType: string;
  tags: string[];
  date?: string;
  /** sha-256 of the normalised text, hex. */
  hash: string;
}

export interface ChunkingOptions {
  sizeTokens: number;
  overlapRatio: number;
  minSectionTokens: number;
}
