import { createHash, randomUUID } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { appendFile, link, mkdir, open, readdir, rename, rm, stat, unlink, writeFile, type FileHandle } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import lockfile from "proper-lockfile";
import { ConflictError, NotFoundError, UnavailableError } from "../../core/errors.js";
import { validateKey, validatePrefix } from "../../core/keys.js";
import { walkFiles } from "../../core/walk-files.js";
import type { DeleteOptions, Generation, ObjectMeta, ObjectStore, PutOptions } from "../../core/object-store.js";

/**
 * Object store on a local directory.
 *
 * Each object is one file at <root>/<key>: the content, then a JSON trailer with
 * the generation and metadata, its length (uint32 BE) and a magic. Content and
 * generation live in one file so that a reader always sees a matching pair, and
 * a write is a temp file renamed over the old one, so no reader ever sees a
 * partial object. Writes take a per-key lock (several processes share the
 * directory) so that generation preconditions are checked and applied atomically.
 *
 * Limitation: a key cannot be both an object and a "directory" of other objects
 * ('a' and 'a/b'); GCS allows it, our key scheme never needs it.
 */
const MAGIC = Buffer.from("RAGOPSO1");
const TAIL_BYTES = 4 + MAGIC.length;

interface Trailer {
  generation: string;
  contentType?: string;
  metadata?: Record<string, string>;
}

export interface LocalDirStoreOptions {
  root: string;
  /**
   * A temp file not written for this long was left by a writer that crashed or
   * was killed, and is removed when the store opens. Several processes share the
   * directory, so a younger one may be another process's write in progress: an
   * upload writes at least every few minutes (the HTTP server gives a request 15
   * minutes in all), and every other write is one call.
   * @defaultValue 3_600_000 (1 hour), in ms
   */
  staleTempMs?: number;
  /**
   * How often an open store sweeps those temp files again: a long-running
   * worker never reopens its store, and writes killed meanwhile leave theirs.
   * @defaultValue staleTempMs / 4
   */
  sweepIntervalMs?: number;
}

const DEFAULT_STALE_TEMP_MS = 60 * 60 * 1000;

export function createLocalDirStore(options: LocalDirStoreOptions): ObjectStore {
  const root = options.root;
  const tmpDir = join(root, ".tmp");
  const lockDir = join(root, ".locks");
  // A failed sweep must not make the store unusable; the next open tries again.
  const staleTempMs = options.staleTempMs ?? DEFAULT_STALE_TEMP_MS;
  const swept = sweepStaleTempFiles(tmpDir, staleTempMs).catch(() => 0);
  const sweeper = setInterval(() => void sweepStaleTempFiles(tmpDir, staleTempMs).catch(() => 0), options.sweepIntervalMs ?? Math.max(1_000, staleTempMs / 4));
  sweeper.unref();
  let ready: Promise<void> | undefined;
  const ensureDirs = () => (ready ??= Promise.all([swept, mkdir(tmpDir, { recursive: true }), mkdir(lockDir, { recursive: true })]).then(() => undefined));

  const pathOf = (key: string) => join(root, ...validateKey(key).split("/"));

  async function withKeyLock<T>(key: string, fn: () => Promise<T>): Promise<T> {
    await ensureDirs();
    const lockfilePath = join(lockDir, `${createHash("sha1").update(key).digest("hex")}.lock`);
    const release = await lockfile.lock(pathOf(key), {
      realpath: false,
      lockfilePath,
      // Locks are held for milliseconds; a lock left by a killed process must not block its key for long.
      stale: 2_000,
      retries: { retries: 200, minTimeout: 2, maxTimeout: 50, factor: 1.5 },
    });
    try {
      return await fn();
    } finally {
      await release().catch(() => undefined);
    }
  }

  async function readMeta(key: string, file: string): Promise<ObjectMeta | undefined> {
    let handle;
    try {
      handle = await open(file, "r");
    } catch (error) {
      if (isCode(error, "ENOENT", "ENOTDIR", "EISDIR")) return undefined;
      throw error;
    }
    try {
      return await readTrailer(key, handle);
    } finally {
      await handle.close();
    }
  }

  async function put(key: string, body: Buffer | string | Readable, opts: PutOptions = {}): Promise<ObjectMeta> {
    return storageErrors(key, "write", () => putObject(key, body, opts));
  }

  /** A file-system failure names the key and the problem, not the temp file or path it happened on (users see these messages). */
  async function storageErrors<T>(key: string, what: "write" | "delete", fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      if (typeof code !== "string" || !(code in FS_PROBLEMS)) throw error;
      throw new UnavailableError(`the object store (a local directory) could not ${what} "${key}": ${FS_PROBLEMS[code]} (${code}); check the data directory's disk and mount`, { cause: error, details: { key, code } });
    }
  }

  async function putObject(key: string, body: Buffer | string | Readable, opts: PutOptions = {}): Promise<ObjectMeta> {
    const file = pathOf(key);
    await ensureDirs();
    const tmp = join(tmpDir, randomUUID());
    try {
      const inMemory = typeof body === "string" || Buffer.isBuffer(body) ? Buffer.from(body) : undefined;
      if (inMemory && String(opts.ifGenerationMatch) === "0") {
        // Small content-addressed objects (chunks, embeddings): one write, one link.
        const generation = nextGeneration(undefined);
        await writeFile(tmp, Buffer.concat([inMemory, encodeTrailer({ generation, contentType: opts.contentType, metadata: opts.metadata })]), { flag: "wx" });
        return await linkCreateOnly(key, file, tmp, { key, generation, size: inMemory.length, updated: new Date(), contentType: opts.contentType, metadata: opts.metadata ?? {} });
      }
      // Stream the content before taking the lock: a slow upload must not block other writers.
      await pipeline(inMemory ? Readable.from([inMemory]) : (body as Readable), createWriteStream(tmp, { flags: "wx" }));
      const size = (await stat(tmp)).size;
      if (String(opts.ifGenerationMatch) === "0") return await createOnly(key, file, tmp, size, opts);
      return await withKeyLock(key, async () => {
        const current = await readMeta(key, file);
        checkPrecondition(key, current, opts.ifGenerationMatch);
        const generation = nextGeneration(current?.generation);
        const trailer: Trailer = { generation, contentType: opts.contentType, metadata: opts.metadata };
        await appendFile(tmp, encodeTrailer(trailer));
        await mkdir(dirname(file), { recursive: true }).catch((error: unknown) => {
          throw isCode(error, "EEXIST", "ENOTDIR") ? new ConflictError(`key "${key}" lies under an existing object; the local store cannot hold both`) : error;
        });
        try {
          await rename(tmp, file);
        } catch (error) {
          if (isCode(error, "EISDIR", "ENOTDIR")) throw new ConflictError(`key "${key}" is a prefix of other objects; the local store cannot hold both`);
          throw error;
        }
        return { key, generation, size, updated: new Date(), contentType: opts.contentType, metadata: opts.metadata ?? {} };
      });
    } finally {
      await rm(tmp, { force: true });
    }
  }

  /**
   * Create-only needs no lock: link() fails when the name exists, atomically,
   * across processes. Content-addressed objects (chunks, embeddings) take this path.
   */
  async function createOnly(key: string, file: string, tmp: string, size: number, opts: PutOptions): Promise<ObjectMeta> {
    const generation = nextGeneration(undefined);
    await appendFile(tmp, encodeTrailer({ generation, contentType: opts.contentType, metadata: opts.metadata }));
    return linkCreateOnly(key, file, tmp, { key, generation, size, updated: new Date(), contentType: opts.contentType, metadata: opts.metadata ?? {} });
  }

  async function linkCreateOnly(key: string, file: string, tmp: string, meta: ObjectMeta): Promise<ObjectMeta> {
    const attempt = () => link(tmp, file);
    try {
      await attempt().catch(async (error: unknown) => {
        if (!isCode(error, "ENOENT")) throw error;
        await mkdir(dirname(file), { recursive: true }); // the key's directory did not exist yet
        await attempt();
      });
    } catch (error) {
      if (isCode(error, "EEXIST")) {
        const current = await readMeta(key, file);
        throw new ConflictError(`object "${key}" already exists (generation ${current?.generation ?? "?"})`, { key, currentGeneration: current?.generation ?? null });
      }
      throw error;
    }
    return meta;
  }

  async function openObject(key: string) {
    const file = pathOf(key);
    let handle;
    try {
      handle = await open(file, "r");
    } catch (error) {
      if (isCode(error, "ENOENT", "ENOTDIR", "EISDIR")) throw new NotFoundError(`object "${key}" not found`);
      throw error;
    }
    try {
      return { handle, meta: await readTrailer(key, handle) };
    } catch (error) {
      await handle.close();
      throw error;
    }
  }

  async function get(key: string): Promise<{ meta: ObjectMeta; body: Buffer }> {
    const { handle, meta } = await openObject(key);
    try {
      const body = Buffer.alloc(meta.size);
      if (meta.size > 0) await handle.read(body, 0, meta.size, 0);
      return { meta, body };
    } finally {
      await handle.close();
    }
  }

  async function getStream(key: string): Promise<{ meta: ObjectMeta; stream: Readable }> {
    const { handle, meta } = await openObject(key);
    if (meta.size === 0) {
      await handle.close();
      return { meta, stream: Readable.from([]) };
    }
    // The stream reads from the already-open descriptor, so a concurrent replace cannot mix versions.
    const stream = createReadStream("", { fd: handle.fd, start: 0, end: meta.size - 1, autoClose: false });
    const closeOnce = () => void handle.close().catch(() => undefined);
    stream.once("close", closeOnce);
    return { meta, stream };
  }

  async function del(key: string, opts: DeleteOptions = {}): Promise<boolean> {
    const file = pathOf(key);
    return storageErrors(key, "delete", () => withKeyLock(key, async () => {
      const current = await readMeta(key, file);
      checkPrecondition(key, current, opts.ifGenerationMatch);
      if (!current) return false;
      await unlink(file);
      return true;
    }));
  }

  async function* list(prefix: string): AsyncIterable<ObjectMeta> {
    validatePrefix(prefix);
    const slash = prefix.lastIndexOf("/");
    const baseDir = slash >= 0 ? join(root, ...prefix.slice(0, slash).split("/")) : root;
    const files: string[] = [];
    for await (const file of walkFiles(baseDir)) files.push(file); // dot entries are .tmp, .locks and lock folders
    const keys = files
      .map((file) => relative(root, file).split(sep).join("/"))
      .filter((key) => key.startsWith(prefix))
      .sort();
    for (const key of keys) {
      const meta = await readMeta(key, pathOf(key));
      if (meta) yield meta; // else deleted while listing
    }
  }

  return {
    put,
    get,
    getStream,
    head: (key) => readMeta(key, pathOf(key)),
    delete: del,
    list,
    close: async () => clearInterval(sweeper),
  };
}

/** File-system failures of a write that say the storage itself is the problem: retryable (a disk remounted, space freed). */
const FS_PROBLEMS: Record<string, string> = {
  EROFS: "the file system is read-only",
  ENOSPC: "no space left on the device",
  EDQUOT: "the disk quota is exceeded",
  EIO: "an input/output error on the device",
  EACCES: "permission denied",
  EPERM: "operation not permitted",
  ENOTDIR: "a directory of the store is missing or not a directory",
  EMFILE: "too many open files",
  ENFILE: "too many open files in the system",
};

/** Removes the files of dir not modified for olderThanMs; returns how many. */
async function sweepStaleTempFiles(dir: string, olderThanMs: number, now = Date.now()): Promise<number> {
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (error) {
    if (isCode(error, "ENOENT", "ENOTDIR")) return 0;
    throw error;
  }
  let removed = 0;
  for (const name of names) {
    const path = join(dir, name);
    try {
      if (now - (await stat(path)).mtimeMs < olderThanMs) continue;
      await rm(path, { force: true });
      removed += 1;
    } catch (error) {
      if (!isCode(error, "ENOENT")) throw error; // finished (renamed or removed) by its writer meanwhile
    }
  }
  return removed;
}

function checkPrecondition(key: string, current: ObjectMeta | undefined, expected: Generation | undefined): void {
  if (expected === undefined) return;
  const wanted = String(expected);
  if (wanted === "0") {
    if (current) throw new ConflictError(`object "${key}" already exists (generation ${current.generation})`, { key, currentGeneration: current.generation });
    return;
  }
  if (!current) throw new ConflictError(`object "${key}" does not exist; expected generation ${wanted}`, { key, currentGeneration: null });
  if (current.generation !== wanted) {
    throw new ConflictError(`object "${key}" is at generation ${current.generation}, not ${wanted}`, { key, currentGeneration: current.generation });
  }
}

/** Microsecond clock like GCS, but never going backwards for one key. */
function nextGeneration(previous: string | undefined): string {
  const nowMicros = Date.now() * 1000;
  const after = previous === undefined ? 0 : Number(previous) + 1;
  return String(Math.max(nowMicros, after));
}

function encodeTrailer(trailer: Trailer): Buffer {
  const json = Buffer.from(JSON.stringify(trailer));
  const length = Buffer.alloc(4);
  length.writeUInt32BE(json.length);
  return Buffer.concat([json, length, MAGIC]);
}

async function readTrailer(key: string, handle: FileHandle): Promise<ObjectMeta> {
  const { size: fileSize, mtime } = await handle.stat();
  const tail = Buffer.alloc(TAIL_BYTES);
  if (fileSize < TAIL_BYTES) throw new Error(`object "${key}" is not in the local store format (file too short)`);
  await handle.read(tail, 0, TAIL_BYTES, fileSize - TAIL_BYTES);
  if (!tail.subarray(4).equals(MAGIC)) throw new Error(`object "${key}" is not in the local store format (no trailer)`);
  const trailerLength = tail.readUInt32BE(0);
  const json = Buffer.alloc(trailerLength);
  await handle.read(json, 0, trailerLength, fileSize - TAIL_BYTES - trailerLength);
  const trailer = JSON.parse(json.toString("utf8")) as Trailer;
  return {
    key,
    generation: trailer.generation,
    size: fileSize - TAIL_BYTES - trailerLength,
    updated: mtime,
    contentType: trailer.contentType,
    metadata: trailer.metadata ?? {},
  };
}

function isCode(error: unknown, ...codes: string[]): boolean {
  return typeof error === "object" && error !== null && codes.includes((error as { code?: string }).code ?? "");
}
