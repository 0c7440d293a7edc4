import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

/**
 * An in-process emulator of the GCS JSON API, for tests and the emulated demo:
 * the real @google-cloud/storage client talks to it over HTTP
 * (`new Storage({ apiEndpoint: emulator.url })`), so an adapter is tested at
 * the wire. It keeps the live generation of each object in memory and serves
 * what the client sends: multipart uploads, resumable uploads (in
 * one request or in chunks, with 308 and Range), downloads (alt=media),
 * metadata, listing with prefix, delimiter and paging, deletes, and the
 * `ifGenerationMatch` precondition (0: create only) with 412 on a miss.
 * Object resources carry crc32c and md5Hash, or the client deletes what it
 * uploaded. Paths work with and without /storage/v1 (STORAGE_EMULATOR_HOST).
 *
 * Left out: auth, ACLs, old generations, metagenerations, ranges, compose, copy.
 */
export type RequestKind = "upload" | "resumable-start" | "resumable-chunk" | "download" | "metadata" | "list" | "delete" | "unknown";

export interface RecordedRequest {
  kind: RequestKind;
  method: string;
  bucket: string | undefined;
  name: string | undefined;
  status: number;
}

export interface GcsEmulatorOptions {
  /** Buckets that exist; requests to others get 404. @defaultValue every bucket exists */
  buckets?: string[];
  /** @defaultValue 0, a free port */
  port?: number;
}

export interface GcsEmulator {
  /** Base URL for `apiEndpoint`, e.g. http://127.0.0.1:41234 */
  url: string;
  /** Every request answered, in order. */
  requests: RecordedRequest[];
  count(kind: RequestKind, bucket?: string): number;
  /** The next `times` requests fail with this status and a GCS error body, whatever they ask. */
  failNext(status: number, options?: { times?: number; message?: string }): void;
  /** Holds the next request of this kind unanswered until `release` (a slow GCS); `reached` resolves when it arrives. */
  stallNext(kind: RequestKind): { reached: Promise<void>; release(): void };
  /** The object's live generation, undefined when absent. */
  generationOf(bucket: string, name: string): string | undefined;
  /** The live objects whose names start with prefix, in name order (other emulators read them: a Vertex batch update). */
  objects(bucket: string, prefix: string): Array<{ name: string; body: Buffer }>;
  close(): Promise<void>;
}

interface StoredObject {
  name: string;
  generation: string;
  body: Buffer;
  contentType: string;
  metadata: Record<string, string> | undefined;
  created: string;
  updated: string;
}

interface UploadSession {
  bucket: string;
  name: string;
  ifGenerationMatch: string | undefined;
  contentType: string;
  metadata: Record<string, string> | undefined;
  received: Buffer[];
  size: number;
}

interface Fault {
  status: number;
  times: number;
  message: string | undefined;
}

const CHUNK_MULTIPLE = 256 * 1024;

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly reason: string) {
    super(message);
  }
}

export async function startGcsEmulator(options: GcsEmulatorOptions = {}): Promise<GcsEmulator> {
  const objects = new Map<string, Map<string, StoredObject>>();
  const sessions = new Map<string, UploadSession>();
  const requests: RecordedRequest[] = [];
  const faults: Fault[] = [];
  const stalls: Array<{ kind: RequestKind; arrive(): void; released: Promise<void> }> = [];
  let lastGeneration = 0;
  let url = "";

  const bucketObjects = (bucket: string) => {
    if (options.buckets && !options.buckets.includes(bucket)) throw new HttpError(404, "The specified bucket does not exist.", "notFound");
    let found = objects.get(bucket);
    if (!found) objects.set(bucket, (found = new Map()));
    return found;
  };

  /** Microseconds like GCS, strictly increasing across the emulator. */
  const nextGeneration = () => String((lastGeneration = Math.max(Date.now() * 1000, lastGeneration + 1)));

  function checkPrecondition(current: StoredObject | undefined, wanted: string | undefined): void {
    if (wanted === undefined) return;
    const holds = wanted === "0" ? current === undefined : current?.generation === wanted;
    if (!holds) throw new HttpError(412, "At least one of the pre-conditions you specified did not hold.", "conditionNotMet");
  }

  function store(bucket: string, name: string, upload: { body: Buffer; contentType: string; metadata: Record<string, string> | undefined; ifGenerationMatch: string | undefined }): StoredObject {
    const inBucket = bucketObjects(bucket);
    const current = inBucket.get(name);
    checkPrecondition(current, upload.ifGenerationMatch);
    const now = new Date().toISOString();
    const object = { name, generation: nextGeneration(), body: upload.body, contentType: upload.contentType, metadata: upload.metadata, created: now, updated: now };
    inBucket.set(name, object);
    return object;
  }

  function resource(bucket: string, object: StoredObject) {
    const encoded = encodeURIComponent(object.name);
    return {
      kind: "storage#object",
      id: `${bucket}/${object.name}/${object.generation}`,
      selfLink: `${url}/storage/v1/b/${bucket}/o/${encoded}`,
      mediaLink: `${url}/download/storage/v1/b/${bucket}/o/${encoded}?generation=${object.generation}&alt=media`,
      name: object.name,
      bucket,
      generation: object.generation,
      metageneration: "1",
      contentType: object.contentType,
      storageClass: "STANDARD",
      size: String(object.body.length),
      md5Hash: createHash("md5").update(object.body).digest("base64"),
      crc32c: crc32c(object.body),
      etag: Buffer.from(object.generation).toString("base64"),
      timeCreated: object.created,
      updated: object.updated,
      ...(object.metadata ? { metadata: object.metadata } : {}),
    };
  }

  /** The live object, after the request's generation and precondition parameters. */
  function readObject(bucket: string, name: string, query: URLSearchParams): StoredObject {
    const object = bucketObjects(bucket).get(name);
    const generation = query.get("generation");
    if (!object || (generation !== null && generation !== object.generation)) throw new HttpError(404, `No such object: ${bucket}/${name}`, "notFound");
    checkPrecondition(object, query.get("ifGenerationMatch") ?? undefined);
    return object;
  }

  function list(bucket: string, query: URLSearchParams) {
    const prefix = query.get("prefix") ?? "";
    const delimiter = query.get("delimiter") ?? "";
    const maxResults = Math.min(Number(query.get("maxResults") ?? 1000) || 1000, 1000);
    const after = query.get("pageToken") ? Buffer.from(query.get("pageToken") as string, "base64url").toString("utf8") : undefined;
    const names = [...bucketObjects(bucket).keys()].filter((name) => name.startsWith(prefix)).sort(byUtf8);
    const items: StoredObject[] = [];
    const prefixes = new Set<string>();
    let last: string | undefined;
    for (const name of names) {
      const cut = delimiter ? name.indexOf(delimiter, prefix.length) : -1;
      const entry = cut >= 0 ? name.slice(0, cut + delimiter.length) : name;
      if (after !== undefined && byUtf8(entry, after) <= 0) continue;
      if (entry === last) continue; // more objects under a prefix already returned
      if (items.length + prefixes.size === maxResults) {
        return { kind: "storage#objects", items: items.map((o) => resource(bucket, o)), prefixes: [...prefixes], nextPageToken: Buffer.from(last as string).toString("base64url") };
      }
      if (cut >= 0) prefixes.add(entry);
      else items.push(bucketObjects(bucket).get(name) as StoredObject);
      last = entry;
    }
    return { kind: "storage#objects", items: items.map((o) => resource(bucket, o)), ...(prefixes.size ? { prefixes: [...prefixes] } : {}) };
  }

  async function startUpload(req: IncomingMessage, res: ServerResponse, bucket: string, query: URLSearchParams): Promise<void> {
    const uploadType = query.get("uploadType");
    const ifGenerationMatch = query.get("ifGenerationMatch") ?? undefined;
    const body = await readBody(req);
    if (uploadType === "resumable") {
      const meta = body.length ? (JSON.parse(body.toString("utf8")) as { name?: string; contentType?: string; metadata?: Record<string, string> }) : {};
      const name = query.get("name") ?? meta.name;
      if (!name) throw new HttpError(400, "Required parameter: name", "required");
      checkPrecondition(bucketObjects(bucket).get(name), ifGenerationMatch); // GCS refuses early; the finish checks again
      const id = randomUUID();
      const contentType = String(req.headers["x-upload-content-type"] ?? meta.contentType ?? "application/octet-stream");
      sessions.set(id, { bucket, name, ifGenerationMatch, contentType, metadata: meta.metadata, received: [], size: 0 });
      res.setHeader("Location", `${url}/upload/storage/v1/b/${encodeURIComponent(bucket)}/o?uploadType=resumable&upload_id=${id}`);
      return sendJson(res, 200, {});
    }
    if (uploadType === "multipart") {
      const [metaPart, mediaPart] = parseMultipart(body, boundaryOf(req));
      const meta = JSON.parse(metaPart?.body.toString("utf8") ?? "{}") as { name?: string; contentType?: string; metadata?: Record<string, string> };
      const name = query.get("name") ?? meta.name;
      if (!name || !mediaPart) throw new HttpError(400, "a multipart upload needs a name and two parts", "invalid");
      const contentType = meta.contentType ?? /content-type:\s*([^\r\n]+)/i.exec(mediaPart.headers)?.[1] ?? "application/octet-stream";
      return sendJson(res, 200, resource(bucket, store(bucket, name, { body: mediaPart.body, contentType, metadata: meta.metadata, ifGenerationMatch })));
    }
    throw new HttpError(400, `unsupported uploadType ${uploadType}`, "invalid");
  }

  /** One PUT of a resumable session: a status query, a chunk (308 and Range), or the last bytes (200 and the object). */
  async function continueUpload(req: IncomingMessage, res: ServerResponse, session: UploadSession, id: string): Promise<void> {
    const range = /^bytes (\*|(\d+)-(\d+|\*))\/(\d+|\*)$/.exec(String(req.headers["content-range"] ?? "bytes 0-*/*"));
    if (!range) throw new HttpError(400, "bad Content-Range", "invalid");
    const [, , first, last, total] = range;
    const body = await readBody(req);
    if (first !== undefined) {
      if (Number(first) > session.size) throw new HttpError(400, `chunk starts at ${first}, but ${session.size} bytes were received`, "invalid");
      if (total === "*" && last !== "*" && body.length % CHUNK_MULTIPLE !== 0) throw new HttpError(400, `a chunk that is not the last must be a multiple of ${CHUNK_MULTIPLE} bytes`, "invalid");
      const fresh = body.subarray(session.size - Number(first)); // a resent chunk overlaps what arrived
      session.received.push(fresh);
      session.size += fresh.length;
    }
    // An unknown end (bytes 0-*/*) is a single-request upload: the request body is the whole rest.
    const finished = total === "*" ? last === "*" : session.size === Number(total);
    if (!finished) {
      if (session.size > 0) res.setHeader("Range", `bytes=0-${session.size - 1}`);
      res.writeHead(308).end();
      return;
    }
    sessions.delete(id);
    const object = store(session.bucket, session.name, { body: Buffer.concat(session.received), contentType: session.contentType, metadata: session.metadata, ifGenerationMatch: session.ifGenerationMatch });
    sendJson(res, 200, resource(session.bucket, object));
  }

  async function handle(req: IncomingMessage, res: ServerResponse, call: Call, query: URLSearchParams): Promise<void> {
    const { kind, bucket, name } = call;
    switch (kind) {
      case "upload":
      case "resumable-start":
        return startUpload(req, res, bucket, query);
      case "resumable-chunk": {
        const id = query.get("upload_id") ?? "";
        const session = sessions.get(id);
        if (!session) throw new HttpError(404, "No such upload session", "notFound");
        call.name = session.name;
        return continueUpload(req, res, session, id);
      }
      case "list":
        return sendJson(res, 200, list(bucket, query));
      case "metadata":
        return sendJson(res, 200, resource(bucket, readObject(bucket, name as string, query)));
      case "download": {
        const object = readObject(bucket, name as string, query);
        res.writeHead(200, {
          "content-type": object.contentType,
          "content-length": object.body.length,
          "x-goog-hash": `crc32c=${crc32c(object.body)},md5=${createHash("md5").update(object.body).digest("base64")}`,
          "x-goog-generation": object.generation,
          "x-goog-metageneration": "1",
          "x-goog-stored-content-encoding": "identity",
          "x-goog-stored-content-length": object.body.length,
        });
        return void res.end(object.body);
      }
      case "delete":
        bucketObjects(bucket).delete(readObject(bucket, name as string, query).name);
        return void res.writeHead(204).end();
    }
  }

  const server = createServer((req, res) => {
    const { pathname, searchParams } = new URL(req.url ?? "/", "http://emulator");
    const call = classify(req.method ?? "GET", pathname, searchParams);
    const record = () => requests.push({ ...call, method: req.method ?? "GET", status: res.statusCode });
    const fault = faults[0];
    if (fault) {
      if (--fault.times <= 0) faults.shift();
      req.resume();
      sendError(res, new HttpError(fault.status, fault.message ?? `injected fault ${fault.status}`, fault.status === 403 ? "forbidden" : "backendError"));
      return record();
    }
    if (call.kind === "unknown") {
      req.resume();
      sendError(res, new HttpError(405, `${req.method} ${pathname} is not emulated`, "invalid"));
      return record();
    }
    const stall = stalls.findIndex((s) => s.kind === call.kind);
    const held = stall >= 0 ? stalls.splice(stall, 1)[0] : undefined;
    held?.arrive();
    Promise.resolve(held?.released).then(() => handle(req, res, call, searchParams)).then(record, (error: unknown) => {
      if (error instanceof RequestAborted) return; // the client went away: nothing was stored
      sendError(res, error instanceof HttpError ? error : new HttpError(500, String(error), "backendError"));
      record();
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url,
    requests,
    count: (kind, bucket) => requests.filter((r) => r.kind === kind && r.status < 400 && (bucket === undefined || r.bucket === bucket)).length,
    failNext: (status, fault = {}) => void faults.push({ status, times: fault.times ?? 1, message: fault.message }),
    stallNext: (kind) => {
      let arrive = () => {};
      let release = () => {};
      const reached = new Promise<void>((resolve) => (arrive = resolve));
      stalls.push({ kind, arrive, released: new Promise<void>((resolve) => (release = resolve)) });
      return { reached, release };
    },
    generationOf: (bucket, name) => objects.get(bucket)?.get(name)?.generation,
    objects: (bucket, prefix) => [...(objects.get(bucket)?.values() ?? [])].filter((o) => o.name.startsWith(prefix)).sort((a, b) => byUtf8(a.name, b.name)).map(({ name, body }) => ({ name, body })),
    close: () => new Promise<void>((resolve) => server.close(() => resolve()).closeAllConnections()),
  };
}

interface Call {
  kind: RequestKind;
  bucket: string;
  name: string | undefined;
}

/** What a request asks for, from its method and path alone (JSON API paths with or without /storage/v1). */
function classify(method: string, path: string, query: URLSearchParams): Call {
  const upload = /^\/upload\/storage\/v1\/b\/([^/]+)\/o$/.exec(path);
  if (upload) {
    const bucket = decodeURIComponent(upload[1] as string);
    if (method === "PUT" && query.has("upload_id")) return { kind: "resumable-chunk", bucket, name: undefined };
    if (method === "POST") return { kind: query.get("uploadType") === "resumable" ? "resumable-start" : "upload", bucket, name: query.get("name") ?? undefined };
  }
  const api = /^(?:\/storage\/v1)?\/b\/([^/]+)\/o(?:\/(.+))?$/.exec(path);
  if (!api) return { kind: "unknown", bucket: "", name: undefined };
  const bucket = decodeURIComponent(api[1] as string);
  const name = api[2] === undefined ? undefined : decodeURIComponent(api[2]);
  if (name === undefined) return { kind: method === "GET" ? "list" : "unknown", bucket, name };
  if (method === "GET") return { kind: query.get("alt") === "media" ? "download" : "metadata", bucket, name };
  return { kind: method === "DELETE" ? "delete" : "unknown", bucket, name };
}

class RequestAborted extends Error {}

/** The whole request body; rejects when the client aborts, so a cut-off upload stores nothing. */
function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    req.on("data", (part: Buffer) => parts.push(part));
    req.on("end", () => resolve(Buffer.concat(parts)));
    req.on("error", () => reject(new RequestAborted()));
    req.on("close", () => req.readableEnded || reject(new RequestAborted()));
  });
}

function boundaryOf(req: IncomingMessage): string {
  const boundary = /boundary="?([^";]+)"?/.exec(String(req.headers["content-type"] ?? ""))?.[1];
  if (!boundary) throw new HttpError(400, "multipart upload without a boundary", "invalid");
  return boundary;
}

/** The parts of a multipart/related body; refuses one without its closing delimiter (a cut-off upload). */
function parseMultipart(body: Buffer, boundary: string): Array<{ headers: string; body: Buffer }> {
  const delimiter = Buffer.from(`--${boundary}`);
  const parts: Array<{ headers: string; body: Buffer }> = [];
  let at = body.indexOf(delimiter);
  while (at >= 0) {
    const start = at + delimiter.length;
    if (body.subarray(start, start + 2).toString() === "--") return parts;
    const next = body.indexOf(delimiter, start);
    if (next < 0) break;
    const part = body.subarray(start + 2, next - 2); // CRLF after the delimiter line and before the next
    const split = part.indexOf("\r\n\r\n");
    parts.push({ headers: part.subarray(0, split).toString("utf8"), body: part.subarray(split + 4) });
    at = next;
  }
  throw new HttpError(400, "multipart body without its closing delimiter", "invalid");
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "content-type": "application/json; charset=UTF-8" }).end(JSON.stringify(body));
}

function sendError(res: ServerResponse, error: HttpError): void {
  if (res.headersSent) return void res.destroy();
  sendJson(res, error.status, { error: { code: error.status, message: error.message, errors: [{ domain: "global", reason: error.reason, message: error.message }] } });
}

/** GCS lists in the byte order of UTF-8 names. */
function byUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

const CRC32C_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k += 1) c = c & 1 ? 0x82f63b78 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

/** CRC-32C (Castagnoli) as GCS writes it: base64 of the big-endian value. */
export function crc32c(data: Buffer): string {
  let crc = 0xffffffff;
  for (const byte of data) crc = (CRC32C_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  const out = Buffer.alloc(4);
  out.writeUInt32BE((crc ^ 0xffffffff) >>> 0);
  return out.toString("base64");
}
