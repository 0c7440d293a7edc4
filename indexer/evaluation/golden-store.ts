import { createHash } from "node:crypto";
import { z } from "zod";
import { ConflictError, InvalidRequestError, NotFoundError } from "../../core/errors.js";
import { readJson, updateJson } from "../../core/json-records.js";
import type { ObjectStore } from "../../core/object-store.js";
import { parseGoldenSet, serializeGoldenSet, type GoldenSet, type JudgmentLevel } from "./golden-set.js";

/**
 * Golden sets, versioned in the object store:
 *
 *   golden-sets/<name>/v<N>.jsonl   the set as canonical JSONL (every id explicit)
 *   golden-sets/<name>/index.json   its versions' records, oldest first
 *
 * A version is never changed once written. An upload first claims v<N> by a
 * create-only write of its body (two uploads racing for N: one wins, the other
 * takes N+1), then adds its record to the index by compare-and-swap. A crash
 * between the two leaves a body no record names: it is never shown, and its N
 * is skipped (versions increase, and are contiguous unless a writer crashed).
 * An upload whose canonical text has the sha-256 of a version already there
 * returns that version instead of making a new one.
 */
export const goldenSetNameSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/, "golden set names are 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit");

export interface GoldenSetRecord {
  name: string;
  version: number;
  /** ISO time the version was stored. */
  created: string;
  questions: number;
  judgmentLevel: JudgmentLevel;
  /** sha-256 (hex) of the canonical JSONL stored at `key`. */
  sha256: string;
  bytes: number;
  key: string;
}

interface GoldenSetIndex {
  name: string;
  versions: GoldenSetRecord[];
}

const ROOT = "golden-sets/";
const indexKey = (name: string) => `${ROOT}${name}/index.json`;
const versionKey = (name: string, version: number) => `${ROOT}${name}/v${version}.jsonl`;
/** Version numbers tried past the index's last one before giving up (each one lost means a racing or crashed writer). */
const MAX_CLAIMS = 50;

export function parseGoldenSetName(name: string): string {
  const parsed = goldenSetNameSchema.safeParse(name);
  if (!parsed.success) throw new InvalidRequestError(`invalid golden set name ${JSON.stringify(name)}: ${parsed.error.issues[0]?.message ?? "bad name"}`);
  return parsed.data;
}

/** "latest" or a version number ("3" or "v3"). */
export function parseGoldenSetVersion(value: string): number | "latest" {
  if (value === "latest") return "latest";
  const m = /^v?([1-9][0-9]{0,8})$/.exec(value);
  if (!m) throw new InvalidRequestError(`invalid golden set version ${JSON.stringify(value)}: give a number (3 or v3) or "latest"`);
  return Number(m[1]);
}

/** A reference to one version: "<name>" (the latest) or "<name>@<version>" ("northwind@2", "northwind@v2"). */
export function parseGoldenSetRef(ref: string): { name: string; version: number | "latest" } {
  const at = ref.lastIndexOf("@");
  if (at < 0) return { name: parseGoldenSetName(ref), version: "latest" };
  return { name: parseGoldenSetName(ref.slice(0, at)), version: parseGoldenSetVersion(ref.slice(at + 1)) };
}

export interface StoredGoldenSet {
  record: GoldenSetRecord;
  /** False when an identical set (same sha-256) was already stored: its version is returned. */
  created: boolean;
}

/** Stores a validated set as the next version of `name`, or returns the version that already holds the same text. */
export async function putGoldenSet(store: ObjectStore, name: string, set: GoldenSet, now: () => Date = () => new Date()): Promise<StoredGoldenSet> {
  parseGoldenSetName(name);
  const text = serializeGoldenSet(set.questions);
  const sha256 = createHash("sha256").update(text).digest("hex");
  const existing = (await readIndex(store, name))?.versions ?? [];
  const same = existing.find((r) => r.sha256 === sha256);
  if (same) return { record: same, created: false };

  const { version, generation } = await claimVersion(store, name, text, lastVersion(existing) + 1);
  const record: GoldenSetRecord = { name, version, created: now().toISOString(), questions: set.questions.length, judgmentLevel: set.judgmentLevel, sha256, bytes: Buffer.byteLength(text), key: versionKey(name, version) };
  const update = await updateJson<GoldenSetIndex>(store, indexKey(name), (current) => {
    // Re-decided after every lost race: an identical upload that got in first wins.
    if (current?.versions.some((r) => r.sha256 === sha256)) return undefined;
    const versions = [...(current?.versions ?? []), record].sort((a, b) => a.version - b.version);
    return { name, versions };
  });
  const winner = update.after?.value.versions.find((r) => r.sha256 === sha256);
  if (!winner) throw new ConflictError(`golden set ${name}: the index lost version ${version}; upload again`);
  if (winner.version !== version) {
    // Our claimed body duplicates the winner's: drop it, so no stray version is left behind.
    await store.delete(versionKey(name, version), { ifGenerationMatch: generation }).catch(() => false);
    return { record: winner, created: false };
  }
  return { record: winner, created: true };
}

/** Claims the first free v<N> from `from` by writing the body create-only. */
async function claimVersion(store: ObjectStore, name: string, text: string, from: number): Promise<{ version: number; generation: string }> {
  for (let version = from; version < from + MAX_CLAIMS; version += 1) {
    try {
      const meta = await store.put(versionKey(name, version), text, { contentType: "application/x-ndjson", ifGenerationMatch: 0 });
      return { version, generation: meta.generation };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
  }
  throw new ConflictError(`golden set ${name}: versions ${from}-${from + MAX_CLAIMS - 1} were all taken by other uploads; try again`, { name });
}

const lastVersion = (records: readonly GoldenSetRecord[]) => records.reduce((max, r) => Math.max(max, r.version), 0);

async function readIndex(store: ObjectStore, name: string): Promise<GoldenSetIndex | undefined> {
  return (await readJson<GoldenSetIndex>(store, indexKey(name)))?.value;
}

/** Every version of one set, oldest first. */
export async function listGoldenSetVersions(store: ObjectStore, name: string): Promise<GoldenSetRecord[]> {
  const index = await readIndex(store, parseGoldenSetName(name));
  if (!index || index.versions.length === 0) throw new NotFoundError(`golden set ${name} does not exist (upload one: POST /v1/golden-sets?name=${name} or ragops golden upload <file> --name ${name})`);
  return index.versions;
}

/** One version's record; "latest" is the highest version. */
export async function getGoldenSetRecord(store: ObjectStore, name: string, version: number | "latest" = "latest"): Promise<GoldenSetRecord> {
  const versions = await listGoldenSetVersions(store, name);
  const record = version === "latest" ? versions[versions.length - 1] : versions.find((r) => r.version === version);
  if (!record) throw new NotFoundError(`golden set ${name} has no version ${version} (it has ${versions.map((r) => r.version).join(", ")})`);
  return record;
}

/** One version's record and its canonical JSONL text. */
export async function readGoldenSetText(store: ObjectStore, name: string, version: number | "latest" = "latest"): Promise<{ record: GoldenSetRecord; text: string }> {
  const record = await getGoldenSetRecord(store, name, version);
  const { body } = await store.get(record.key);
  return { record, text: body.toString("utf8") };
}

/** One version, parsed: what an evaluation run reads. */
export async function readGoldenSet(store: ObjectStore, name: string, version: number | "latest" = "latest"): Promise<{ record: GoldenSetRecord; set: GoldenSet }> {
  const { record, text } = await readGoldenSetText(store, name, version);
  return { record, set: parseGoldenSet(text) };
}

export interface GoldenSetSummary {
  name: string;
  versions: number;
  latest: GoldenSetRecord;
}

/** Every set by name, with its latest version. */
export async function listGoldenSets(store: ObjectStore): Promise<GoldenSetSummary[]> {
  const summaries: GoldenSetSummary[] = [];
  for await (const meta of store.list(ROOT)) {
    if (!meta.key.endsWith("/index.json")) continue;
    const index = (await readJson<GoldenSetIndex>(store, meta.key))?.value;
    const latest = index?.versions[index.versions.length - 1];
    if (index && latest) summaries.push({ name: index.name, versions: index.versions.length, latest });
  }
  return summaries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
