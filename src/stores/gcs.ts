import { PassThrough, Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import type { Bucket, File, FileMetadata } from "@google-cloud/storage";
import { ConflictError, NotFoundError } from "../../core/errors.js";
import { validateKey, validatePrefix } from "../../core/keys.js";
import type { DeleteOptions, ObjectMeta, ObjectStore, PutOptions } from "../../core/object-store.js";
import { gcsError, type GcsErrorContext } from "./gcs-errors.js";

/**
 * Object store on a GCS bucket through @google-cloud/storage. GCS has the
 * port's semantics natively: every write makes a new generation, and
 * `ifGenerationMatch` (0: create only) is checked atomically by GCS, so the
 * alias and registry compare-and-swap need nothing of ours.
 *
 * A body below `resumableThresholdBytes` goes up in one multipart request; a
 * larger one (or a stream that turns out larger) by a resumable upload in
 * chunks, so only a chunk is held in memory. An upload is invisible until it is
 * finalised, so a reader sees the old object or the new one whole, and a body
 * that fails midway leaves nothing. Reads pin the generation the metadata
 * named, so `meta` and the bytes always belong together.
 *
 * Listing skips object names that are not keys (a console's folder
 * placeholder, a dot file), which the local store cannot hold either.
 *
 * Credentials are Application Default Credentials as the client finds them;
 * with a custom `apiEndpoint` (an emulator) the client sends none.
 */
export interface GcsStoreOptions {
  bucket: string;
  /** Put before every key, so one bucket can hold several deployments ("ragops/prod/"). @defaultValue "" */
  prefix?: string;
  /** Project of the client; the client finds it from the credentials when unset. */
  projectId?: string;
  /** e.g. http://127.0.0.1:4443 for an emulator. @defaultValue Google's endpoint */
  apiEndpoint?: string;
  /** Bodies of at least this many bytes go up by resumable upload. @defaultValue 8 MiB, bytes */
  resumableThresholdBytes?: number;
  /** Bytes per request of a resumable upload, a multiple of 256 KiB; 0: the whole rest in one request. @defaultValue 8 MiB, bytes */
  uploadChunkBytes?: number;
  /** Objects asked for per list request (GCS gives at most 1000). @defaultValue 1000 */
  listPageSize?: number;
  /** Retries the client makes of an idempotent call (reads, deletes, writes with a precondition). @defaultValue 3 */
  maxRetries?: number;
}

const MiB = 1024 * 1024;
/** Attempts to read an object that is replaced between its metadata and its bytes. */
const READ_ATTEMPTS = 5;

export function createGcsStore(options: GcsStoreOptions): ObjectStore {
  const root = normalisePrefix(options.prefix ?? "");
  const threshold = options.resumableThresholdBytes ?? 8 * MiB;
  const chunkBytes = options.uploadChunkBytes ?? 8 * MiB;
  const pageSize = options.listPageSize ?? 1000;
  let opened: Promise<Bucket> | undefined;
  // The client loads only when a GCS store is used.
  const bucket = () =>
    (opened ??= import("@google-cloud/storage").then(({ Storage, IdempotencyStrategy }) =>
      new Storage({
        ...(options.projectId ? { projectId: options.projectId } : {}),
        ...(options.apiEndpoint ? { apiEndpoint: options.apiEndpoint } : {}),
        retryOptions: {
          // With the default (retry only conditional calls) the client turns its shared autoRetry flag off
          // around each unconditional delete, and a call that starts meanwhile can leave it off for good.
          // Retrying every call is safe here: an unconditional write replaces a whole object with the same bytes.
          idempotencyStrategy: IdempotencyStrategy.RetryAlways,
          // The client reads maxRetries 0 as "the default"; autoRetry false is how to say none.
          ...(options.maxRetries === undefined ? {} : options.maxRetries === 0 ? { autoRetry: false } : { maxRetries: options.maxRetries }),
        },
      }).bucket(options.bucket),
    ));
  const nameOf = (key: string) => root + validateKey(key);
  const context = (operation: GcsErrorContext["operation"], key?: string, ifGenerationMatch?: string | number): GcsErrorContext => ({
    operation,
    bucket: options.bucket,
    ...(key === undefined ? {} : { name: root + key }),
    ...(ifGenerationMatch === undefined ? {} : { ifGenerationMatch }),
  });

  async function put(key: string, body: Buffer | string | Readable, opts: PutOptions = {}): Promise<ObjectMeta> {
    const file = (await bucket()).file(nameOf(key));
    let sourceError: unknown;
    if (body instanceof Readable) body.once("error", (error) => (sourceError = error));
    const { head, rest } = typeof body === "string" || Buffer.isBuffer(body) ? { head: Buffer.from(body), rest: undefined } : await peek(body, threshold);
    const resumable = rest !== undefined || head.length >= threshold;
    const upload = file.createWriteStream({
      resumable,
      ...(resumable && chunkBytes > 0 ? { chunkSize: chunkBytes } : {}),
      metadata: { contentType: opts.contentType, ...(opts.metadata ? { metadata: opts.metadata } : {}) },
      ...(opts.ifGenerationMatch === undefined ? {} : { preconditionOpts: { ifGenerationMatch: opts.ifGenerationMatch } }),
    });
    try {
      await pipeline(rest ?? Readable.from([head]), upload);
    } catch (error) {
      throw sourceError ?? gcsError(error, context("write", key, opts.ifGenerationMatch));
    }
    return toMeta(key, file.metadata);
  }

  async function head(key: string): Promise<ObjectMeta | undefined> {
    const file = (await bucket()).file(nameOf(key));
    try {
      return toMeta(key, (await file.getMetadata())[0]);
    } catch (error) {
      const mapped = gcsError(error, context("read", key));
      if (mapped instanceof NotFoundError) return undefined;
      throw mapped;
    }
  }

  async function getStream(key: string): Promise<{ meta: ObjectMeta; stream: Readable }> {
    for (let attempt = 1; ; attempt += 1) {
      const meta = await head(key);
      if (!meta) throw new NotFoundError(`object "${key}" not found in gs://${options.bucket}/${root}`);
      const file = (await bucket()).file(nameOf(key), { generation: meta.generation });
      try {
        return { meta, stream: await openDownload(file, context("read", key)) };
      } catch (error) {
        // Replaced between the metadata and the bytes: read the new generation.
        if (!(error instanceof NotFoundError) || attempt >= READ_ATTEMPTS) throw error;
      }
    }
  }

  async function get(key: string): Promise<{ meta: ObjectMeta; body: Buffer }> {
    const { meta, stream } = await getStream(key);
    const parts: Buffer[] = [];
    for await (const part of stream) parts.push(part as Buffer);
    return { meta, body: Buffer.concat(parts) };
  }

  async function del(key: string, opts: DeleteOptions = {}): Promise<boolean> {
    const file = (await bucket()).file(nameOf(key));
    const expected = opts.ifGenerationMatch;
    try {
      await file.delete(expected === undefined ? {} : { ifGenerationMatch: expected });
      return true;
    } catch (error) {
      const mapped = gcsError(error, context("delete", key, expected));
      if (!(mapped instanceof NotFoundError)) throw mapped;
      // GCS says 404 before it looks at the precondition; the port says a named generation of nothing is a conflict.
      if (expected !== undefined && String(expected) !== "0") throw new ConflictError(`object "${key}" does not exist; expected generation ${expected}`, { key, currentGeneration: null });
      return false;
    }
  }

  async function* list(prefix: string): AsyncIterable<ObjectMeta> {
    validatePrefix(prefix);
    const store = await bucket();
    let pageToken: string | undefined;
    do {
      let page;
      try {
        page = await store.getFiles({ prefix: root + prefix, maxResults: pageSize, autoPaginate: false, ...(pageToken ? { pageToken } : {}) });
      } catch (error) {
        throw gcsError(error, context("list"));
      }
      const [files, next] = page;
      for (const file of files) {
        const key = file.name.slice(root.length);
        // Another tool may leave names no key has ("docs/", ".DS_Store"): they are not ours to read.
        if (isKey(key)) yield toMeta(key, file.metadata);
      }
      pageToken = (next as { pageToken?: string } | null)?.pageToken;
    } while (pageToken);
  }

  return { put, get, getStream, head, delete: del, list, close: async () => undefined };
}

/** A prefix of object names: key rules, and a trailing '/' so keys sit in their own folder. */
function normalisePrefix(prefix: string): string {
  if (prefix === "") return "";
  const trimmed = prefix.replace(/\/+$/, "");
  return `${validateKey(trimmed)}/`;
}

function isKey(name: string): boolean {
  try {
    validateKey(name);
    return true;
  } catch {
    return false;
  }
}

function toMeta(key: string, resource: FileMetadata): ObjectMeta {
  const metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(resource.metadata ?? {})) if (value !== null && value !== undefined) metadata[name] = String(value);
  return {
    key,
    generation: String(resource.generation),
    size: Number(resource.size ?? 0),
    updated: new Date(resource.updated ?? Date.now()),
    contentType: resource.contentType,
    metadata,
  };
}

/**
 * Starts the download and waits for the answer, so a missing object or a
 * refused read is a rejected promise rather than a later stream error. Errors
 * after that (a connection cut mid-body) reach the stream's reader mapped.
 */
async function openDownload(file: File, where: GcsErrorContext): Promise<Readable> {
  const download = file.createReadStream();
  const stream = new PassThrough();
  let answered = false;
  await new Promise<void>((resolve, reject) => {
    download.once("response", (response: { statusCode?: number; status?: number }) => {
      answered = (response.statusCode ?? response.status ?? 200) < 300;
      if (answered) resolve();
    });
    download.once("error", (error) => {
      const mapped = gcsError(error, where) as Error;
      if (answered) return void stream.destroy(mapped);
      stream.destroy();
      reject(mapped);
    });
    download.pipe(stream);
  });
  return stream;
}

/**
 * Reads a stream until it ends or `limit` bytes have come: `rest` is undefined
 * when it ended (the whole body is `head`), else a stream of all of it.
 */
async function peek(body: Readable, limit: number): Promise<{ head: Buffer; rest: Readable | undefined }> {
  const iterator = body[Symbol.asyncIterator]() as AsyncIterator<Buffer | string>;
  const seen: Buffer[] = [];
  let size = 0;
  while (size < limit) {
    const next = await iterator.next();
    if (next.done) return { head: Buffer.concat(seen), rest: undefined };
    const part = Buffer.from(next.value);
    seen.push(part);
    size += part.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    try {
      yield* seen;
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) yield Buffer.from(next.value);
    } finally {
      await iterator.return?.(); // an upload that failed early must not leave the body half read
    }
  }
  return { head: Buffer.concat(seen), rest: Readable.from(all()) };
}
