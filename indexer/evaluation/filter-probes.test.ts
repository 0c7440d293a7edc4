import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { StoredRestricts } from "../indexes/vector-index.js";
import { candidateDocuments, judgeProbe, noProbeCandidates, noteProbeCandidate, planProbes, probeReport, summarizeProbes, type FilterProbe, type ProbeSample } from "./filter-probes.js";

const held = (documentIds: string[], tags: string[] = [], contentTypes = ["text/markdown"], date?: number): StoredRestricts => ({
  restricts: { documentIds, tags, contentTypes },
  numericRestricts: date === undefined ? {} : { date },
});

const sample = (id: string, r: StoredRestricts): ProbeSample => ({ id, ...r });

const probeOf = (plan: FilterProbe[], namespace: FilterProbe["namespace"], kind: FilterProbe["kind"]) => {
  const found = plan.find((p) => p.namespace === namespace && p.kind === kind);
  if (!found) throw new Error(`no ${kind} probe on ${namespace}`);
  return found;
};

describe("planProbes", () => {
  const samples = [sample("a", held(["dock"], ["hardware"], ["text/markdown"], 1_700_000_000)), sample("b", held(["travel"], ["policy", "public"], ["text/plain"]))];

  it("plans an allow and a deny probe per namespace and two date comparisons when the corpus has dates", () => {
    const { probes, skipped } = planProbes(samples, { usesTags: true, usesDates: true });
    expect(probes.map((p) => `${p.namespace}:${p.kind}:${p.value}`)).toEqual([
      "documentIds:allow:dock",
      "documentIds:deny:dock",
      "tags:allow:hardware",
      "tags:deny:hardware",
      "contentTypes:allow:text/markdown",
      "contentTypes:deny:text/markdown",
      "date:at-or-after:1700000000",
      "date:before:1700000000",
    ]);
    expect(skipped).toEqual([]);
    expect(probeOf(probes, "tags", "deny").filter).toEqual({ restricts: { tags: { deny: ["hardware"] } } });
    expect(probeOf(probes, "date", "before").filter).toEqual({ numeric: [{ namespace: "date", op: "LESS", value: 1_700_000_000 }] });
  });

  it("probes the values the version pins when a sampled datapoint carries one", () => {
    const { probes } = planProbes(samples, { usesTags: true, usesDates: false, pinned: { tags: ["public"], contentTypes: ["text/plain"] } });
    expect(probeOf(probes, "tags", "allow")).toMatchObject({ known: "b", value: "public" });
    expect(probeOf(probes, "contentTypes", "allow")).toMatchObject({ known: "b", value: "text/plain" });
  });

  it("leaves out tags and dates when the corpus has none, and names a namespace it cannot probe", () => {
    const untagged = [sample("a", held(["dock"]))];
    expect(planProbes(untagged, { usesTags: false, usesDates: false }).probes.map((p) => p.namespace)).toEqual(["documentIds", "documentIds", "contentTypes", "contentTypes"]);
    expect(planProbes(untagged, { usesTags: true, usesDates: true }).skipped).toEqual(["tags: no sampled datapoint carries a tag", "date: no sampled datapoint carries a date"]);
  });

  it("plans nothing without samples", () => {
    expect(planProbes([], { usesTags: true, usesDates: true }).probes).toEqual([]);
  });
});

describe("judgeProbe", () => {
  const known = held(["dock"], ["hardware"], ["text/markdown"], 1_700_000_000);
  const other = held(["travel"], ["policy"], ["text/plain"], 1_600_000_000);
  const undated = held(["battery"], ["hardware"]);
  const index = new Map([
    ["k", known],
    ["o", other],
    ["u", undated],
  ]);
  const { probes } = planProbes([sample("k", known)], { usesTags: true, usesDates: true });

  it("passes an allow probe whose hits all carry the value and include the known datapoint", () => {
    expect(judgeProbe(probeOf(probes, "tags", "allow"), ["k", "u"], index)).toMatchObject({ outcome: "passed", hits: 2 });
  });

  it("fails an allow probe with a hit lacking the value, naming the namespace and the value", () => {
    const result = judgeProbe(probeOf(probes, "tags", "allow"), ["k", "o"], index);
    expect(result).toMatchObject({ outcome: "failed", detail: "allow filter on tags was ignored: a hit without tag 'hardware' came back (chunk o)" });
  });

  it("fails an allow probe that does not find the known datapoint", () => {
    expect(judgeProbe(probeOf(probes, "documentIds", "allow"), [], index).detail).toBe("allow filter on documentIds lost the known match: chunk k with document id 'dock' was not found among 0 hits");
  });

  it("fails a deny probe that returns the denied datapoint", () => {
    expect(judgeProbe(probeOf(probes, "contentTypes", "deny"), ["k", "o"], index).detail).toBe("deny filter on contentTypes was ignored: a hit with content type 'text/markdown' came back (chunk k)");
    expect(judgeProbe(probeOf(probes, "contentTypes", "deny"), ["o"], index).outcome).toBe("passed");
  });

  it("checks date comparisons both ways, a datapoint without a date matching neither", () => {
    expect(judgeProbe(probeOf(probes, "date", "at-or-after"), ["k"], index).outcome).toBe("passed");
    expect(judgeProbe(probeOf(probes, "date", "at-or-after"), ["k", "o"], index).detail).toMatch(/^date filter \(>= 2023-11-14T22:13:20.000Z\) was ignored: a hit dated 2020-09-13T12:26:40.000Z came back \(chunk o\)$/);
    expect(judgeProbe(probeOf(probes, "date", "at-or-after"), ["k", "u"], index).detail).toMatch(/a hit without a date came back \(chunk u\)/);
    expect(judgeProbe(probeOf(probes, "date", "before"), ["o"], index).outcome).toBe("passed");
    expect(judgeProbe(probeOf(probes, "date", "before"), ["o", "k"], index).detail).toMatch(/^date filter \(< 2023-11-14T22:13:20.000Z\) was ignored: a hit dated 2023-11-14T22:13:20.000Z came back \(chunk k\)$/);
  });

  it("is inconclusive, not failed, when the known datapoint left the index or lost the value meanwhile, and ignores hits that left", () => {
    expect(judgeProbe(probeOf(probes, "tags", "allow"), [], new Map()).outcome).toBe("inconclusive");
    expect(judgeProbe(probeOf(probes, "tags", "deny"), ["k"], new Map([["k", other]])).outcome).toBe("inconclusive");
    expect(judgeProbe(probeOf(probes, "tags", "allow"), ["k", "gone"], index).outcome).toBe("passed");
  });

  // The class: any hits over any restricts. A probe fails exactly when a hit the index still holds violates the
  // filter, or an allow / at-or-after probe misses the known datapoint.
  it("fails exactly when a held hit violates the filter or a must-find probe misses the known datapoint", () => {
    const restricts = fc.record({
      documentIds: fc.subarray(["dock", "travel", "battery"], { minLength: 1 }),
      tags: fc.subarray(["hardware", "policy", "public"]),
      contentTypes: fc.subarray(["text/markdown", "text/plain"], { minLength: 1, maxLength: 1 }),
    });
    const stored = fc.record({ restricts, numericRestricts: fc.option(fc.integer({ min: 1_600_000_000, max: 1_800_000_000 }), { nil: undefined }).map((date) => (date === undefined ? {} : { date })) });
    const ids = ["k", "h1", "h2", "h3", "h4"];
    fc.assert(
      fc.property(fc.constantFrom(...probes), fc.array(fc.option(stored, { nil: undefined }), { minLength: 4, maxLength: 4 }), fc.subarray(ids), (probe, others, hits) => {
        const index = new Map<string, StoredRestricts>([["k", known]]);
        others.forEach((r, i) => r && index.set(`h${i + 1}`, r));
        const matches = (r: StoredRestricts) => {
          if (probe.namespace === "date") {
            const d = r.numericRestricts.date;
            return d !== undefined && (probe.kind === "at-or-after" ? d >= (probe.value as number) : d < (probe.value as number));
          }
          return r.restricts[probe.namespace].includes(probe.value as string) === (probe.kind === "allow");
        };
        const violated = hits.some((id) => index.has(id) && !matches(index.get(id) as StoredRestricts));
        const missed = (probe.kind === "allow" || probe.kind === "at-or-after") && !hits.includes("k");
        const result = judgeProbe(probe, hits, index);
        expect(result.outcome).toBe(violated || missed ? "failed" : "passed");
        if (result.outcome === "failed") expect(result.detail).toMatch(probe.namespace === "date" ? /^date filter/ : new RegExp(` on ${probe.namespace} `));
      }),
    );
  });
});

describe("probe candidates", () => {
  it("notes the first document, the first tagged (a pinned tag first), the first with a pinned content type and the first dated", () => {
    const pinned = { tags: ["public"], contentTypes: ["text/plain"] };
    const docs = [
      { id: "a", tags: [], contentType: "text/markdown" },
      { id: "b", tags: ["hardware"], contentType: "text/markdown", date: "not a date" },
      { id: "c", tags: ["public"], contentType: "text/markdown", date: "2026-03-14" },
      { id: "d", tags: [], contentType: "text/plain", date: "2026-03-15" },
    ];
    const c = docs.reduce((acc, doc) => noteProbeCandidate(acc, doc, pinned), noProbeCandidates(pinned));
    expect(c).toEqual({ first: "a", tagged: "b", pinnedTag: "c", pinnedContentType: "d", dated: "c", usesTags: true, usesDates: true });
    expect(candidateDocuments(c)).toEqual(["c", "d", "b", "a"]);
  });

  it("expects a tag probe when the version pins tags even if no document has one", () => {
    expect(noProbeCandidates({ tags: ["public"] }).usesTags).toBe(true);
    expect(noProbeCandidates(undefined)).toEqual({ usesTags: false, usesDates: false });
  });
});

describe("summarizeProbes", () => {
  it("says when nothing was probed and why", () => {
    expect(summarizeProbes(probeReport([], ["the index is empty"]))).toBe("no filter probes (the index is empty)");
  });
});
