/**
 * The filter self-test every build ends with: a handful of searches with each
 * restrict the version's searches use (document id, tag, content type, date),
 * each from a known datapoint's own vector, checking that every hit satisfies
 * the filter and that the known match is found (allow, date at or after) or
 * left out (deny, date before). An index that silently ignores a filter (a
 * failure users of other RAG stores report) fails the build instead of
 * answering searches with documents the caller excluded.
 *
 * Pure: which documents to sample (noteProbeCandidate), which probes to run
 * (planProbes) and what a probe's hits mean (judgeProbe). I/O: runFilterProbes,
 * a few manifest reads, one fetch per sampled document, one query per probe and
 * one fetch of every hit's restricts.
 */
import { RagopsError } from "../../core/errors.js";
import type { ObjectStore } from "../../core/object-store.js";
import { embedWithCache, type EmbeddingCache } from "../embedding-cache.js";
import type { Embedder } from "../embedders/embedder.js";
import { NAMESPACES, type IndexFilter, type Namespace, type StoredRestricts, type VectorIndex } from "../indexes/vector-index.js";
import { readManifest } from "../sync/manifest.js";

/** Neighbours per probe: the known datapoint is its own nearest neighbour, so a few are plenty. */
export const PROBE_K = 10;
/** Chunks of a sampled document offered to the index's fetch. */
const CHUNKS_PER_DOCUMENT = 20;

const LABEL: Record<Namespace, string> = { documentIds: "document id", tags: "tag", contentTypes: "content type" };

/** What a version's searches always restrict (config.filter): probed with these values when a datapoint carries one. */
export interface PinnedFilter {
  tags?: string[] | undefined;
  contentTypes?: string[] | undefined;
}

/** One document as the build sees it: enough to choose which few to sample. */
export interface CandidateDocument {
  id: string;
  tags: readonly string[];
  contentType: string;
  date?: string | undefined;
}

/**
 * The few documents worth sampling, noted while the build walks the corpus, so
 * choosing them costs nothing more: the first document, the first with a tag
 * (a pinned one first), the first with a pinned content type, the first with a date.
 */
export interface ProbeCandidates {
  first?: string;
  tagged?: string;
  pinnedTag?: string;
  pinnedContentType?: string;
  dated?: string;
  usesTags: boolean;
  usesDates: boolean;
}

export const noProbeCandidates = (pinned: PinnedFilter | undefined): ProbeCandidates => ({ usesTags: Boolean(pinned?.tags?.length), usesDates: false });

/** The candidates after seeing one more document. Pure. */
export function noteProbeCandidate(c: ProbeCandidates, doc: CandidateDocument, pinned: PinnedFilter | undefined): ProbeCandidates {
  const dated = doc.date !== undefined && Number.isFinite(Date.parse(doc.date));
  return {
    ...c,
    first: c.first ?? doc.id,
    tagged: c.tagged ?? (doc.tags.length ? doc.id : undefined),
    pinnedTag: c.pinnedTag ?? (doc.tags.some((t) => pinned?.tags?.includes(t)) ? doc.id : undefined),
    pinnedContentType: c.pinnedContentType ?? (pinned?.contentTypes?.includes(doc.contentType) ? doc.id : undefined),
    dated: c.dated ?? (dated ? doc.id : undefined),
    usesTags: c.usesTags || doc.tags.length > 0,
    usesDates: c.usesDates || dated,
  };
}

/** The documents to sample, each once, most telling first. Pure. */
export function candidateDocuments(c: ProbeCandidates): string[] {
  return [...new Set([c.pinnedTag, c.pinnedContentType, c.dated, c.tagged, c.first].filter((id): id is string => id !== undefined))];
}

/** A datapoint the index holds, with the restricts it reported for it. */
export interface ProbeSample extends StoredRestricts {
  id: string;
}

export type ProbeKind = "allow" | "deny" | "at-or-after" | "before";

export interface FilterProbe {
  namespace: Namespace | "date";
  kind: ProbeKind;
  /** The datapoint whose own vector the probe searches with. */
  known: string;
  /** The token allowed or denied, or the date (epoch seconds) compared with. */
  value: string | number;
  filter: IndexFilter;
}

export interface ProbeScope {
  pinned?: PinnedFilter | undefined;
  /** Some document has tags (or the version pins some): a tag probe is expected. */
  usesTags: boolean;
  /** Some document has a date: date probes are expected. */
  usesDates: boolean;
}

/**
 * Per namespace, a sample carrying a value (a pinned one first) and two probes:
 * allow only that value, deny it. With dates, at-or-after and before the
 * sample's date. A namespace no sample can probe is named in `skipped`. Pure.
 */
export function planProbes(samples: readonly ProbeSample[], scope: ProbeScope): { probes: FilterProbe[]; skipped: string[] } {
  const probes: FilterProbe[] = [];
  const skipped: string[] = [];
  for (const namespace of NAMESPACES) {
    if (namespace === "tags" && !scope.usesTags) continue;
    const pinned = namespace === "documentIds" ? undefined : scope.pinned?.[namespace];
    const pick = pickValue(samples, namespace, pinned);
    if (!pick) {
      skipped.push(`${namespace}: no sampled datapoint carries a ${LABEL[namespace]}`);
      continue;
    }
    const { sample, value } = pick;
    probes.push({ namespace, kind: "allow", known: sample.id, value, filter: { restricts: { [namespace]: { allow: [value] } } } });
    probes.push({ namespace, kind: "deny", known: sample.id, value, filter: { restricts: { [namespace]: { deny: [value] } } } });
  }
  if (scope.usesDates) {
    const sample = samples.find((s) => s.numericRestricts.date !== undefined);
    if (!sample) skipped.push("date: no sampled datapoint carries a date");
    else {
      const value = sample.numericRestricts.date as number;
      probes.push({ namespace: "date", kind: "at-or-after", known: sample.id, value, filter: { numeric: [{ namespace: "date", op: "GREATER_EQUAL", value }] } });
      probes.push({ namespace: "date", kind: "before", known: sample.id, value, filter: { numeric: [{ namespace: "date", op: "LESS", value }] } });
    }
  }
  return { probes, skipped };
}

function pickValue(samples: readonly ProbeSample[], namespace: Namespace, pinned: readonly string[] | undefined): { sample: ProbeSample; value: string } | undefined {
  for (const sample of samples) {
    const value = sample.restricts[namespace].find((v) => pinned?.includes(v));
    if (value !== undefined) return { sample, value };
  }
  const sample = samples.find((s) => s.restricts[namespace].length > 0);
  return sample ? { sample, value: sample.restricts[namespace][0] as string } : undefined;
}

export type ProbeOutcome = "passed" | "failed" | "inconclusive";

export interface ProbeResult {
  namespace: FilterProbe["namespace"];
  kind: ProbeKind;
  value: string | number;
  known: string;
  hits: number;
  outcome: ProbeOutcome;
  /** Failed: what was wrong, naming the namespace. Inconclusive: why the probe cannot tell. */
  detail?: string;
}

/** Whether a datapoint with these restricts matches the probe's filter. */
function satisfies(probe: FilterProbe, held: StoredRestricts): boolean {
  if (probe.namespace === "date") {
    const date = held.numericRestricts.date;
    // A datapoint without a date matches no comparison on it (the port's rule).
    if (date === undefined) return false;
    return probe.kind === "at-or-after" ? date >= (probe.value as number) : date < (probe.value as number);
  }
  const carries = held.restricts[probe.namespace].includes(probe.value as string);
  return probe.kind === "allow" ? carries : !carries;
}

const showDate = (seconds: number | undefined) => (seconds === undefined ? "without a date" : `dated ${new Date(seconds * 1000).toISOString()}`);

function describeFilter(probe: FilterProbe): string {
  if (probe.namespace === "date") return `date filter (${probe.kind === "at-or-after" ? ">=" : "<"} ${new Date((probe.value as number) * 1000).toISOString()})`;
  return `${probe.kind} filter on ${probe.namespace}`;
}

function describeMiss(probe: FilterProbe, held: StoredRestricts): string {
  if (probe.namespace === "date") return `a hit ${showDate(held.numericRestricts.date)}`;
  const label = LABEL[probe.namespace];
  return probe.kind === "allow" ? `a hit without ${label} '${probe.value}'` : `a hit with ${label} '${probe.value}'`;
}

/**
 * What a probe's hits say, given the restricts the index reports for each hit
 * and for the known datapoint (fetched after the query). Every hit must satisfy
 * the filter; allow and at-or-after must find the known datapoint. A hit or a
 * known datapoint that left the index or changed its restricts meanwhile (a job
 * ran beside the build) proves nothing either way. Pure.
 */
export function judgeProbe(probe: FilterProbe, hits: readonly string[], held: ReadonlyMap<string, StoredRestricts>): ProbeResult {
  const base = { namespace: probe.namespace, kind: probe.kind, value: probe.value, known: probe.known, hits: hits.length };
  const known = held.get(probe.known);
  const mustFind = probe.kind === "allow" || probe.kind === "at-or-after";
  // The known datapoint must still be the example it was chosen as: matching allow / at-or-after, failing deny / before.
  if (!known || satisfies(probe, known) !== mustFind) return { ...base, outcome: "inconclusive", detail: `the known datapoint ${probe.known} left the index or changed its restricts during the probe` };
  for (const id of hits) {
    const restricts = held.get(id);
    if (restricts && !satisfies(probe, restricts)) return { ...base, outcome: "failed", detail: `${describeFilter(probe)} was ignored: ${describeMiss(probe, restricts)} came back (chunk ${id})` };
  }
  if (mustFind && !hits.includes(probe.known)) {
    const what = probe.namespace === "date" ? showDate(known.numericRestricts.date) : `with ${LABEL[probe.namespace]} '${probe.value}'`;
    return { ...base, outcome: "failed", detail: `${describeFilter(probe)} lost the known match: chunk ${probe.known} ${what} was not found among ${hits.length} hits` };
  }
  return { ...base, outcome: "passed" };
}

/** What the build records: every probe's result, and what could not be probed. */
export interface FilterProbeReport {
  probes: number;
  passed: number;
  failed: number;
  inconclusive: number;
  skipped: string[];
  results: ProbeResult[];
}

export function probeReport(results: readonly ProbeResult[], skipped: readonly string[]): FilterProbeReport {
  const count = (outcome: ProbeOutcome) => results.filter((r) => r.outcome === outcome).length;
  return { probes: results.length, passed: count("passed"), failed: count("failed"), inconclusive: count("inconclusive"), skipped: [...skipped], results: [...results] };
}

/** One line for the audit log and the logs. */
export function summarizeProbes(report: FilterProbeReport): string {
  if (report.probes === 0) return `no filter probes (${report.skipped.join("; ") || "nothing to probe"})`;
  const extra = [report.inconclusive ? `${report.inconclusive} inconclusive` : "", report.skipped.length ? `skipped ${report.skipped.join("; ")}` : ""].filter(Boolean);
  return `filter probes: ${report.passed} of ${report.probes} passed${extra.length ? ` (${extra.join(", ")})` : ""}`;
}

/** A build whose index does not honour a filter: the version must not serve searches. */
export class FilterProbeError extends RagopsError {
  constructor(readonly report: FilterProbeReport) {
    const problems = report.results.filter((r) => r.outcome === "failed").map((r) => r.detail);
    super("internal", `filter self-test failed, so searches of this version could return documents their filter excludes: ${problems.join("; ")}`, { retryable: false, details: { failed: report.failed, probes: report.probes } });
  }
}

export interface ProbeTarget {
  index: VectorIndex;
  embedder: Embedder;
  cache: EmbeddingCache;
  /** The version's chunking profile, whose manifests hold the sampled documents' chunks. */
  profile: string;
}

/**
 * Runs the probes against a built index. An empty index is skipped (0 probes,
 * recorded). Returns the report; the caller fails the build when report.failed > 0.
 */
export async function runFilterProbes(store: ObjectStore, target: ProbeTarget, candidates: ProbeCandidates, pinned: PinnedFilter | undefined): Promise<FilterProbeReport> {
  if ((await target.index.count()) === 0) return probeReport([], ["the index is empty"]);
  const samples: ProbeSample[] = [];
  const texts = new Map<string, string>();
  for (const documentId of candidateDocuments(candidates)) {
    const manifest = await readManifest(store, target.profile, documentId);
    if (!manifest) continue; // deleted while the build ran
    const chunks = manifest.chunks.slice(0, CHUNKS_PER_DOCUMENT);
    // Chunks held as another's near-duplicate are not in the index: fetch says which are.
    const held = await target.index.fetch(chunks.map((c) => c.hash));
    for (const chunk of chunks) {
      const restricts = held.get(chunk.hash);
      if (!restricts || texts.has(chunk.hash)) continue;
      samples.push({ id: chunk.hash, ...restricts });
      texts.set(chunk.hash, chunk.text);
    }
  }
  const { probes, skipped } = planProbes(samples, { pinned, usesTags: candidates.usesTags, usesDates: candidates.usesDates });
  if (probes.length === 0) return probeReport([], skipped.length ? skipped : ["no sampled document has a chunk in the index"]);
  // The known datapoints' own vectors: the cache holds them, as sync wrote them through it.
  const knowns = new Map([...new Set(probes.map((p) => p.known))].map((id) => [id, texts.get(id) as string]));
  const { vectors } = await embedWithCache(target.embedder, target.cache, knowns, { batchSize: knowns.size });
  const hits: string[][] = [];
  for (const probe of probes) hits.push((await target.index.query(vectors.get(probe.known) as Float32Array, { k: PROBE_K, filter: probe.filter })).map((n) => n.id));
  const held = await target.index.fetch([...new Set([...knowns.keys(), ...hits.flat()])]);
  return probeReport(
    probes.map((probe, i) => judgeProbe(probe, hits[i] as string[], held)),
    skipped,
  );
}
