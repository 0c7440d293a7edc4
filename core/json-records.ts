import { ConflictError, NotFoundError } from "./errors.js";
import type { ObjectStore } from "./object-store.js";

/**
 * Small records on the object store (document records, index versions, the
 * alias, audit segments), read and changed by compare-and-swap on their
 * generation. `compareAndSwap` is the one retry loop; the JSON helpers are it
 * with a JSON body.
 */
export interface Versioned<T> {
  value: T;
  generation: string;
}

/** How a record's value is stored as an object body. */
export interface RecordCodec<T> {
  contentType: string;
  decode(body: Buffer): T;
  encode(value: T): string;
}

const JSON_CODEC: RecordCodec<unknown> = {
  contentType: "application/json",
  decode: (body) => JSON.parse(body.toString("utf8")) as unknown,
  encode: (value) => JSON.stringify(value),
};

const jsonCodec = <T>() => JSON_CODEC as RecordCodec<T>;

async function readRecord<T>(store: ObjectStore, key: string, codec: RecordCodec<T>): Promise<Versioned<T> | undefined> {
  try {
    const { meta, body } = await store.get(key);
    return { value: codec.decode(body), generation: meta.generation };
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

export async function readJson<T>(store: ObjectStore, key: string): Promise<Versioned<T> | undefined> {
  return readRecord(store, key, jsonCodec<T>());
}

export async function writeJson<T>(store: ObjectStore, key: string, value: T, ifGenerationMatch?: string | number): Promise<Versioned<T>> {
  const meta = await store.put(key, JSON_CODEC.encode(value), { contentType: JSON_CODEC.contentType, ifGenerationMatch });
  return { value, generation: meta.generation };
}

export interface RecordUpdate<T> {
  /** The record as the winning attempt read it; undefined when it did not exist. */
  before: Versioned<T> | undefined;
  /** The record as the update left it: what it wrote, or `before` when `change` left it alone. */
  after: Versioned<T> | undefined;
}

/** An update whose change always returns a record has always written one. */
export type WrittenUpdate<T> = RecordUpdate<T> & { after: Versioned<T> };

export interface UpdateOptions {
  /**
   * Lost races (another writer committed between our read and our write)
   * tolerated before giving up. Each loss means another writer committed, so N
   * writers racing on one record all finish within N attempts.
   * @defaultValue 20
   */
  maxAttempts?: number;
}

const DEFAULT_MAX_ATTEMPTS = 20;

/**
 * The one compare-and-swap loop: reads the record, applies `change` (pure, and
 * called again after every lost race, so it must decide from `current` alone),
 * and writes the result only if the record is still the generation it read
 * (create-only when it was absent). `change` returns undefined to leave the
 * record alone; an error it throws (a refused move, a missing record) goes
 * through at once, without a retry or a write. Only a lost race is retried,
 * after a short random pause that grows with each loss (racing writers spread
 * out instead of colliding again), at most `maxAttempts` times in all; then a
 * ConflictError names the key.
 */
export async function compareAndSwap<T>(store: ObjectStore, key: string, codec: RecordCodec<T>, change: (current: T | undefined) => T, options?: UpdateOptions): Promise<WrittenUpdate<T>>;
export async function compareAndSwap<T>(store: ObjectStore, key: string, codec: RecordCodec<T>, change: (current: T | undefined) => T | undefined, options?: UpdateOptions): Promise<RecordUpdate<T>>;
export async function compareAndSwap<T>(store: ObjectStore, key: string, codec: RecordCodec<T>, change: (current: T | undefined) => T | undefined, options: UpdateOptions = {}): Promise<RecordUpdate<T>> {
  const maxAttempts = options.maxAttempts ?? DEFAULT_MAX_ATTEMPTS;
  for (let attempt = 1; ; attempt += 1) {
    const before = await readRecord(store, key, codec);
    const next = change(before?.value);
    if (next === undefined) return { before, after: before };
    try {
      const meta = await store.put(key, codec.encode(next), { contentType: codec.contentType, ifGenerationMatch: before?.generation ?? 0 });
      return { before, after: { value: next, generation: meta.generation } };
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
      if (attempt >= maxAttempts) {
        throw new ConflictError(`could not update ${key} after ${attempt} attempts: other writers kept changing it (nothing was written); try again`, { key, attempts: attempt });
      }
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 2 * attempt));
    }
  }
}

/** compareAndSwap on a JSON record. */
export async function updateJson<T>(store: ObjectStore, key: string, change: (current: T | undefined) => T, options?: UpdateOptions): Promise<WrittenUpdate<T>>;
export async function updateJson<T>(store: ObjectStore, key: string, change: (current: T | undefined) => T | undefined, options?: UpdateOptions): Promise<RecordUpdate<T>>;
export async function updateJson<T>(store: ObjectStore, key: string, change: (current: T | undefined) => T | undefined, options?: UpdateOptions): Promise<RecordUpdate<T>> {
  return compareAndSwap(store, key, jsonCodec<T>(), change, options);
}
