import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createParsePool, type ParsePool } from "../ingest/parsers/isolated.js";
import type { FilterProbeReport } from "../indexer/evaluation/filter-probes.js";
import type { IndexFilter, VectorIndex } from "../indexer/indexes/vector-index.js";
import { buildVersion, type BuildDeps } from "../indexer/lifecycle/build.js";
import type { VersionCatalog } from "../indexer/lifecycle/catalog.js";
import { createVersion, getVersion } from "../indexer/lifecycle/versions.js";
import { putDocument, startStack, uploadDocument, waitForJob, type Stack } from "./support/stack.js";

/**
 * The filter self-test at the end of every build (issue 11): a normal build
 * passes and its job result holds the probe report; a build whose index adapter
 * ignores a filter fails, with the reason naming the namespace.
 */
const post = async (url: string, path: string, body: unknown) => {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-ragops-actor": "alice" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
};

/** Builds a version through the API and returns its build job's result (the BuildResult). */
async function buildThroughApi(stack: Stack, body: Record<string, unknown>): Promise<{ filterProbes: FilterProbeReport }> {
  const created = await post(stack.url, "/v1/indexes", body);
  expect(created.status, JSON.stringify(created.body)).toBe(202);
  const job = await waitForJob(stack.url, String(created.body.buildJobId));
  expect(job.state, job.failedReason).toBe("completed");
  return job.result as { filterProbes: FilterProbeReport };
}

/** A test double of an adapter that drops part of every query's filter, as some vector stores silently do. */
function droppingFilters(index: VectorIndex, drop: (filter: IndexFilter) => IndexFilter): VectorIndex {
  return new Proxy(index, {
    get: (target, property, receiver) =>
      property === "query"
        ? (vector: Float32Array, options: { k: number; filter?: IndexFilter }) => target.query(vector, { ...options, ...(options.filter ? { filter: drop(options.filter) } : {}) })
        : Reflect.get(target, property, receiver),
  });
}

/** The stack's catalog, with every opened version's index wrapped. */
function catalogWith(catalog: VersionCatalog, wrap: (index: VectorIndex) => VectorIndex): VersionCatalog {
  return {
    ...catalog,
    open: async (version) => {
      const opened = await catalog.open(version);
      return { ...opened, index: wrap(opened.index) };
    },
  };
}

const withoutRestrict = (namespace: "documentIds" | "tags" | "contentTypes") => (filter: IndexFilter): IndexFilter => {
  const { [namespace]: _dropped, ...rest } = filter.restricts ?? {};
  return { ...filter, restricts: rest };
};

describe("filter self-test at the end of every build", () => {
  let stack: Stack;
  let parser: ParsePool;
  let empty: { filterProbes: FilterProbeReport };

  beforeAll(async () => {
    stack = await startStack();
    // Built before any document exists: its index is empty.
    empty = await buildThroughApi(stack, { version: "empty" });
    await putDocument(stack.url, "dock", "# Charging dock\n\nMount the CD-10 charging dock against a solid wall with 1.2 metres of clear floor in front of it.\n", { tags: "hardware", date: "2026-01-10" });
    await putDocument(stack.url, "battery", "# Battery\n\nReplace the BP-48 battery pack when a full charge lasts less than six hours of picking.\n", { tags: "hardware,public", date: "2025-06-01" });
    const travel = await uploadDocument(stack.url, { name: "travel.txt", content: "Hotel stays are reimbursed up to 180 EUR per night in high-cost cities with a receipt.\n", type: "text/plain" }, { tags: "policy" }, "PUT", "/v1/documents/travel");
    expect((await waitForJob(stack.url, ((await travel.json()) as { jobId: string }).jobId)).state).toBe("completed");
    parser = createParsePool({ processes: 1, timeoutMs: stack.config.ingest.parseTimeoutMs, maxMemoryMb: stack.config.ingest.parseMaxMemoryMb });
  });

  afterAll(async () => {
    await parser?.close();
    await stack?.stop();
  });

  it("skips the probes of an empty index and records that it did", () => {
    expect(empty.filterProbes).toMatchObject({ probes: 0, failed: 0, skipped: ["the index is empty"] });
  });

  it("passes a normal build, probing document id, tag, content type and date, and records the report in the build result and the audit log", async () => {
    const result = await buildThroughApi(stack, { version: "v2" });
    const report = result.filterProbes;
    expect(report).toMatchObject({ failed: 0, inconclusive: 0, skipped: [] });
    expect(report.passed).toBe(report.probes);
    expect(new Set(report.results.map((r) => `${r.namespace}:${r.kind}`))).toEqual(
      new Set(["documentIds:allow", "documentIds:deny", "tags:allow", "tags:deny", "contentTypes:allow", "contentTypes:deny", "date:at-or-after", "date:before"]),
    );
    const audit = (await (await fetch(`${stack.url}/v1/audit?limit=100`)).json()) as { entries: Array<{ action: string; version?: string; reason?: string }> };
    expect(audit.entries.find((e) => e.action === "build-end" && e.version === "v2")?.reason).toContain(`filter probes: ${report.probes} of ${report.probes} passed`);
  });

  it("probes the tag a version pins", async () => {
    const { filterProbes } = await buildThroughApi(stack, { version: "pinned", config: { filter: { tags: ["public"] } } });
    expect(filterProbes.results.filter((r) => r.namespace === "tags")).toEqual([expect.objectContaining({ kind: "allow", value: "public", outcome: "passed" }), expect.objectContaining({ kind: "deny", value: "public", outcome: "passed" })]);
  });

  const ignoring: Array<{ name: string; drop: (filter: IndexFilter) => IndexFilter; reason: RegExp; notNamed?: RegExp }> = [
    { name: "every filter", drop: () => ({}), reason: /allow filter on documentIds was ignored: a hit without document id '\w+' came back/ },
    { name: "the tags filter", drop: withoutRestrict("tags"), reason: /filter on tags was ignored: a hit (without|with) tag '[\w]+' came back/, notNamed: /documentIds|contentTypes|date filter/ },
    { name: "the content type filter", drop: withoutRestrict("contentTypes"), reason: /filter on contentTypes was ignored: a hit (without|with) content type '[\w/]+' came back/, notNamed: /documentIds|on tags|date filter/ },
    { name: "the document id filter", drop: withoutRestrict("documentIds"), reason: /filter on documentIds was ignored/, notNamed: /on tags|contentTypes|date filter/ },
    { name: "date comparisons", drop: (filter) => ({ ...filter, numeric: [] }), reason: /date filter \([<>=]+ [\dT:.Z-]+\) was ignored: a hit (dated [\dT:.Z-]+|without a date) came back/, notNamed: /documentIds|on tags|contentTypes/ },
  ];

  for (const [i, { name, drop, reason, notNamed }] of ignoring.entries()) {
    it(`fails the build of an index that ignores ${name}, naming the namespace on the version and in the audit log`, async () => {
      const version = `ignoring${i}`;
      await createVersion(stack.runtime.store, { version, config: {}, actor: "test", maxTopK: stack.config.index.maxTopK, defaultIndexProvider: stack.config.index.provider });
      const { config, store, redis, logger } = stack.runtime;
      const deps: BuildDeps = { config, store, redis, logger, parser, catalog: catalogWith(stack.runtime.catalog, (index) => droppingFilters(index, drop)) };
      await expect(buildVersion(deps, version, () => undefined)).rejects.toThrow(reason);
      const record = await getVersion(store, version);
      expect(record.state).toBe("failed");
      expect(record.error).toMatch(/^filter self-test failed/);
      expect(record.error).toMatch(reason);
      // Only the ignored namespace is blamed.
      if (notNamed) expect(record.error).not.toMatch(notNamed);
      const audit = (await (await fetch(`${stack.url}/v1/audit?limit=100`)).json()) as { entries: Array<{ action: string; version?: string; reason?: string }> };
      expect(audit.entries.find((e) => e.action === "build-end" && e.version === version)?.reason).toMatch(reason);
    });
  }

  it("still passes a build through an index wrapper that keeps the filter (the double itself is faithful)", async () => {
    await createVersion(stack.runtime.store, { version: "faithful", config: {}, actor: "test", maxTopK: stack.config.index.maxTopK, defaultIndexProvider: stack.config.index.provider });
    const { config, store, redis, logger } = stack.runtime;
    const deps: BuildDeps = { config, store, redis, logger, parser, catalog: catalogWith(stack.runtime.catalog, (index) => droppingFilters(index, (filter) => filter)) };
    const result = await buildVersion(deps, "faithful", () => undefined);
    expect(result.filterProbes).toMatchObject({ failed: 0, probes: 8 });
    expect((await getVersion(store, "faithful")).state).toBe("ready");
  });
});
