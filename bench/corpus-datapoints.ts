import type { Datapoint } from "../indexer/indexes/vector-index.js";
import { countTerms } from "../indexer/sparse/analyze.js";
import { documentVector } from "../indexer/sparse/bm25.js";
import { generateCorpus } from "./corpus.mjs";

/**
 * Paragraphs of the generated corpus (grown past its 200 documents to give
 * `rows` of them) as text datapoints: BM25 document vectors with k1 1.2, b 0.75
 * and the paragraphs' own mean length, a 2-d stand-in vector, every other one
 * tagged "even". For benchmarks and tests of text search at scale.
 */
export function corpusDatapoints(rows: number): { texts: string[]; points: Datapoint[] } {
  const texts: string[] = [];
  for (const doc of generateCorpus({ numDocs: Math.ceil(rows / 60) })) {
    for (const paragraph of doc.text.split(/\n\n+/)) if (texts.length < rows && paragraph.length > 100) texts.push(paragraph);
  }
  const counted = texts.map(countTerms);
  const avgdl = counted.reduce((sum, c) => sum + c.length, 0) / counted.length;
  const points = counted.map((terms, i) => ({
    id: `c${i}`,
    vector: [1, (i % 7) / 7],
    sparse: documentVector(terms, { k1: 1.2, b: 0.75, avgdl }),
    restricts: { documentIds: [`d${i % 100}`], tags: i % 2 === 0 ? ["even"] : [], contentTypes: [] },
    numericRestricts: {},
  }));
  return { texts, points };
}
