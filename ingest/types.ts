/** The typed shapes a document takes on its way to chunks. */

export type DocumentKind = "pdf" | "docx" | "html" | "markdown" | "text";

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
  /** Offsets of the section in ParsedDocument.text; the section's text is text.slice(charStart, charEnd). */
  charStart: number;
  charEnd: number;
}

export interface ParsedDocument {
  kind: DocumentKind;
  /** Canonical content type of what was parsed (from the bytes, not the client's claim). */
  contentType: string;
  title?: string;
  /** Metadata the document declared about itself (front matter, document properties). */
  declared: { title?: string; tags?: string[]; date?: string };
  /** The document's text with '\n' line ends; every offset points into it. */
  text: string;
  sections: Section[];
  /** Offset in `text` where each page starts (page 1 first), for paged formats. */
  pageStarts?: number[];
}

export interface Chunk {
  documentId: string;
  version: number;
  ordinal: number;
  /** What is embedded, hashed and returned by search: the heading path of the section it starts in ("A > B"), a blank line, then its body. */
  text: string;
  tokenCount: number;
  /** Offsets in the parsed document's text of what `text` holds after its heading-path line (all of it when it has none). */
  charStart: number;
  charEnd: number;
  /** The part of the heading path all of the chunk's body sits under (title lines and one-line sections aside). */
  headingPath: string[];
  /** Index of the first section this chunk's text comes from. */
  sectionIndex: number;
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
