import { ConflictError, NotFoundError } from "./errors.js";
import type { ObjectStore } from "./object-store.js";

/** Small JSON records on the object store, read and changed by compare-and-swap. */
export interface Versioned<T> {
  value: T;
  generation: string;
}

export async function readJson<T>(store: ObjectStore, key: string): Promise<Versioned<T> | undefined> {
  try {
    const { meta, body } = await store.get(key);
    return { value: JSON.parse(body.toString("utf8")) as T, generation: meta.generation };
  } catch (error) {
    if (error instanceof NotFoundError) return undefined;
    throw error;
  }
}

export async function writeJson<T>(store: ObjectStore, key: string, value: T, ifGenerationMatch?: string | number): Promise<Versioned<T>> {
  const meta = await store.put(key, JSON.stringify(value), { contentType: "application/json", ifGenerationMatch });
  return { value, generation: meta.generation };
}

/**
 * Read-modify-write with retries on a lost race. `change` gets the current value
 * (undefined when absent) and returns the new one, or undefined to leave it alone.
 */
export async function updateJson<T>(
  store: ObjectStore,
  key: string,
  change: (current: T | undefined) => T | undefined,
  maxAttempts = 20,
): Promise<Versioned<T> | undefined> {
  for (let attempt = 1; ; attempt += 1) {
    const current = await readJson<T>(store, key);
    const next = change(current?.value);
    if (next === undefined) return current;
    try {
      return await writeJson(store, key, next, current?.generation ?? 0);
    } catch (error) {
      if (!(error instanceof ConflictError) || attempt >= maxAttempts) throw error;
    }
  }
}
