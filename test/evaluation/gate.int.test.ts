import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { evaluateWithGate } from "../../indexer/evaluation/gated.js";
import { parseGoldenSet } from "../../indexer/evaluation/golden-set.js";
import { putGoldenSet } from "../../indexer/evaluation/golden-store.js";
import type { EvaluateDeps } from "../../indexer/evaluation/run.js";
import { listAudit } from "../../indexer/lifecycle/audit.js";
import { getVersion } from "../../indexer/lifecycle/versions.js";
import { putDocument, startStack, waitForJob, type Stack } from "../support/stack.js";

const post = async (url: string, path: string, body: unknown) => {
  const response = await fetch(`${url}${path}`, { method: "POST", headers: { "content-type": "application/json", "x-ragops-actor": "alice" }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> & { error?: { code: string; message: string } } };
};

/** Eight documents on distinct subjects; half are tagged public, so a version pinned to that tag loses the others. */
const DOCS: Array<{ id: string; text: string; question: string; public: boolean }> = [
  { id: "dock", text: "# Charging dock\n\nMount the CD-10 charging dock against a solid wall with 1.2 metres of clear floor in front of it.", question: "charging dock mount wall clear floor", public: true },
  { id: "battery", text: "# Battery\n\nReplace the BP-48 battery pack when a full charge lasts less than six hours of picking.", question: "replace BP-48 battery pack full charge hours", public: false },
  { id: "travel", text: "# Travel\n\nHotel stays are reimbursed up to 180 EUR per night in high-cost cities with a receipt.", question: "hotel stays reimbursed per night receipt", public: true },
  { id: "wifi", text: "# Wi-Fi\n\nThe robots need WPA2-Enterprise and port 8883 open for MQTT to the Flock broker.", question: "WPA2-Enterprise port 8883 MQTT broker", public: false },
  { id: "tires", text: "# Tires\n\nRotate the polyurethane drive tires every 900 operating hours and swap them at 3 mm tread.", question: "rotate polyurethane drive tires tread", public: true },
  { id: "lidar", text: "# Lidar\n\nClean the lidar window with a dry microfibre cloth; solvents cloud the coating.", question: "clean lidar window microfibre cloth solvents", public: false },
  { id: "payroll", text: "# Payroll\n\nSalaries are paid on the 25th; a bank holiday moves payday to the working day before.", question: "salaries paid 25th bank holiday payday", public: true },
  { id: "firmware", text: "# Firmware\n\nFirmware updates install overnight between 02:00 and 04:00 while robots sit on their docks.", question: "firmware updates install overnight robots", public: false },
];

const golden = (extra = "") =>
  DOCS.map((d, i) => JSON.stringify({ id: `q${i + 1}`, question: `${d.question}${extra}`, relevantDocuments: [d.id] })).join("\n");

describe("the promotion gate", () => {
  let stack: Stack;
  let deps: EvaluateDeps;

  const build = async (version: string, config: Record<string, unknown> = {}) => {
    const created = await post(stack.url, "/v1/indexes", { version, config });
    expect(created.status, JSON.stringify(created.body)).toBe(202);
    expect((await waitForJob(stack.url, String(created.body.buildJobId))).state).toBe("completed");
  };

  beforeAll(async () => {
    stack = await startStack();
    for (const d of DOCS) await putDocument(stack.url, d.id, d.text, d.public ? { tags: "public" } : {});
    await putGoldenSet(stack.runtime.store, "gate", parseGoldenSet(golden()));
    const { runtime, config } = stack;
    deps = { store: runtime.store, redis: runtime.redis, redisPrefix: config.redis.prefix, catalog: runtime.catalog, evaluation: config.evaluation };
  }, 120_000);

  afterAll(async () => {
    await stack?.stop();
  });

  it("fails a green that lost half the corpus on non-regression, keeps it ready, and refuses its swap naming the rule unless forced with a reason", async () => {
    await build("v2", { filter: { tags: ["public"] } });
    const report = await evaluateWithGate(deps, { version: "v2", goldenSet: { name: "gate", version: "latest" }, actor: "alice" });
    expect(report.live).toMatchObject({ version: "v1" });
    expect(report.gate?.passed).toBe(false);
    expect(report.gate?.rules.filter((r) => !r.passed).map((r) => `${r.rule} ${r.metric}`)).toContain("non-regression ndcg@10");
    expect(await getVersion(stack.runtime.store, "v2")).toMatchObject({ state: "ready", lastEvaluation: { reportId: report.id, passed: false } });

    const refused = await post(stack.url, "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1" });
    expect(refused.status).toBe(409);
    expect(refused.body.error?.message).toContain(report.id);
    expect(refused.body.error?.message).toMatch(/non-regression on ndcg@10/);

    const noReason = await post(stack.url, "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1", force: true });
    expect(noReason.status).toBe(400);
    expect(noReason.body.error?.message).toMatch(/needs a reason/);

    const forced = await post(stack.url, "/v1/aliases/live/swap", { to: "v2", expectedVersion: "v1", force: true, reason: "public-only launch" });
    expect(forced).toMatchObject({ status: 200, body: { live: "v2", previous: "v1" } });
    const { entries } = await listAudit(stack.runtime.store, { limit: 1000 });
    expect(entries.at(-1)).toMatchObject({ action: "forced-promotion", from: "v1", to: "v2", reportId: report.id, reason: "public-only launch" });
    expect((await post(stack.url, "/v1/aliases/live/rollback", { expectedVersion: "v2" })).status).toBe(200);
  }, 120_000);

  it("passes an identical copy, which then swaps without force, for the current golden set version only", async () => {
    await build("v3");
    const report = await evaluateWithGate(deps, { version: "v3", goldenSet: { name: "gate", version: "latest" }, actor: "alice" });
    expect(report.gate?.summary).toMatch(/^passed/);
    expect(report.gate?.rules.find((r) => r.rule === "non-regression")?.observed).toBe(0);
    expect(await getVersion(stack.runtime.store, "v3")).toMatchObject({ state: "evaluated", reportId: report.id });

    // A newer golden set version makes the passing report stale.
    await putGoldenSet(stack.runtime.store, "gate", parseGoldenSet(golden(" please")));
    const stale = await post(stack.url, "/v1/aliases/live/swap", { to: "v3", expectedVersion: "v1" });
    expect(stale.status).toBe(409);
    expect(stale.body.error?.message).toMatch(/golden set gate@1, but the current one is @2/);

    const again = await evaluateWithGate(deps, { version: "v3", goldenSet: { name: "gate", version: "latest" }, actor: "alice" });
    expect(again.gate?.passed).toBe(true);
    const swapped = await post(stack.url, "/v1/aliases/live/swap", { to: "v3", expectedVersion: "v1" });
    expect(swapped).toMatchObject({ status: 200, body: { live: "v3", previous: "v1" } });
    const { entries } = await listAudit(stack.runtime.store, { limit: 1000 });
    expect(entries.at(-1)).toMatchObject({ action: "swap", from: "v1", to: "v3", reportId: again.id });
    expect(entries.filter((e) => e.action === "evaluate" && e.version === "v3").map((e) => e.reportId)).toEqual([report.id, again.id]);
  }, 120_000);

  it("sends an evaluated version back to ready when its latest evaluation fails the gate, records that report, and lets a later pass earn evaluated again", async () => {
    await build("v4");
    const passed = await evaluateWithGate(deps, { version: "v4", goldenSet: { name: "gate", version: "latest" }, actor: "alice" });
    expect(passed.gate?.passed).toBe(true);
    expect(await getVersion(stack.runtime.store, "v4")).toMatchObject({ state: "evaluated", reportId: passed.id });

    // The same version under a gate it cannot meet (one relevant document per question caps precision@10 at 0.1).
    const strict = { ...deps, evaluation: { ...deps.evaluation, gate: { ...deps.evaluation.gate, thresholds: { "precision@10": 0.5 } } } };
    const failed = await evaluateWithGate(strict, { version: "v4", goldenSet: { name: "gate", version: "latest" }, actor: "alice" });
    expect(failed.gate?.passed).toBe(false);
    expect(await getVersion(stack.runtime.store, "v4")).toMatchObject({ state: "ready", reportId: failed.id, lastEvaluation: { reportId: failed.id, passed: false } });
    const shown = (await (await fetch(`${stack.url}/v1/indexes/v4`)).json()) as { state: string };
    expect(shown.state).toBe("ready");
    const { entries } = await listAudit(stack.runtime.store, { limit: 1000 });
    expect(entries.at(-1)).toMatchObject({ action: "evaluate", version: "v4", reportId: failed.id, reason: expect.stringMatching(/^gate failed/) });
    const refused = await post(stack.url, "/v1/aliases/live/swap", { to: "v4", expectedVersion: "v3" });
    expect(refused.status).toBe(409);
    expect(refused.body.error?.message).toContain(failed.id);

    // A failing gate keeps a ready version ready; a pass moves it to evaluated again.
    await evaluateWithGate(strict, { version: "v4", goldenSet: { name: "gate", version: "latest" }, actor: "alice" });
    expect((await getVersion(stack.runtime.store, "v4")).state).toBe("ready");
    const again = await evaluateWithGate(deps, { version: "v4", goldenSet: { name: "gate", version: "latest" }, actor: "alice" });
    expect(await getVersion(stack.runtime.store, "v4")).toMatchObject({ state: "evaluated", reportId: again.id, lastEvaluation: { reportId: again.id, passed: true } });
  }, 120_000);
});
