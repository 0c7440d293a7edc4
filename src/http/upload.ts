import { randomUUID } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import type { Request, Response } from "express";
import busboy from "busboy";
import { resolveContentType } from "../documents/content-types.js";
import { InvalidRequestError, PayloadTooLargeError, RequestTimeoutError, UnknownFieldError, UnprocessableDocumentError, UnsupportedMediaTypeError } from "../../core/errors.js";
import { uploadKey } from "../../core/documents.js";
import type { StoredUpload } from "../documents/service.js";
import type { ObjectStore } from "../../core/object-store.js";

/**
 * Receives one multipart upload and streams its file part straight to the
 * object store: the bytes never sit in memory whole, a file over the limit
 * fails while streaming, and any failure leaves nothing stored.
 */
export interface ReceivedUpload {
  upload: StoredUpload;
  fields: Record<string, string>;
}

export interface ReceiveOptions {
  store: ObjectStore;
  maxBytes: number;
  allowedFields: readonly string[];
  /** Validates one form field as it arrives (throws), so a bad field is refused before the file is read. */
  checkField?: (name: string, value: string) => void;
  /** Slowest the body may arrive, bytes per second averaged over rateWindowMs; 0 or absent: no minimum. */
  minBytesPerSecond?: number;
  /** @defaultValue 30_000 ms */
  rateWindowMs?: number;
}

const FORM_OVERHEAD_BYTES = 1024 * 1024;

/**
 * Resolves once the file is stored. Rejects only after everything it created is
 * gone: on a client abort, a malformed body or a limit, the temp file is closed
 * and deleted (or the stored object removed) before the promise settles.
 */
export function receiveUpload(req: Request, options: ReceiveOptions): Promise<ReceivedUpload> {
  const declaredLength = Number(req.headers["content-length"] ?? NaN);
  if (declaredLength > options.maxBytes + FORM_OVERHEAD_BYTES) return Promise.reject(new PayloadTooLargeError(options.maxBytes));
  if (!req.is("multipart/form-data")) {
    return Promise.reject(new UnsupportedMediaTypeError('uploads must be multipart/form-data with the document in a part named "file"'));
  }
  return new Promise((resolve, reject) => {
    const fields: Record<string, string> = {};
    let stored: Promise<StoredUpload> | undefined;
    /** The file part on its way to the store; destroying it makes the store drop its temp file. */
    let inFlight: Transform | undefined;
    let failed = false;
    let resolved = false;
    let parser: busboy.Busboy;
    try {
      parser = busboy({
        headers: req.headers,
        preservePath: true, // so that a path in the name is refused, not silently cut
        defParamCharset: "utf8", // file names as browsers, fetch and curl send them (filename*= is decoded as it says)
        limits: { files: 1, fields: 20, fieldSize: 64 * 1024, parts: 24 },
      });
    } catch (error) {
      reject(new InvalidRequestError(`malformed multipart request: ${(error as Error).message}`));
      return;
    }

    const stopWatching = watchUploadRate(req, options, (bytesPerSecond) =>
      fail(
        new RequestTimeoutError(
          `the upload arrived at ${Math.round(bytesPerSecond)} bytes/s, below the minimum of ${options.minBytesPerSecond} bytes/s (http.minUploadBytesPerSecond, measured over http.uploadRateWindowMs); nothing was stored`,
          { minBytesPerSecond: options.minBytesPerSecond, bytesPerSecond: Math.round(bytesPerSecond) },
        ),
      ),
    );
    const fail = (error: unknown) => {
      if (failed || resolved) return;
      failed = true;
      stopWatching();
      req.unpipe(parser);
      inFlight?.destroy(error as Error);
      const cleanedUp = stored ? stored.then((upload) => options.store.delete(upload.key)).then(noop, noop) : Promise.resolve();
      void cleanedUp.then(() => reject(error));
    };

    parser.on("field", (name, value, info) => {
      if (failed) return;
      if (!options.allowedFields.includes(name)) return fail(new UnknownFieldError(name, `the upload form (allowed: file, ${options.allowedFields.join(", ")})`));
      if (info.valueTruncated) return fail(new InvalidRequestError(`form field "${name}" is longer than 64 KiB`));
      try {
        options.checkField?.(name, value);
      } catch (error) {
        return fail(error);
      }
      fields[name] = value;
    });

    parser.on("file", (name, stream, info) => {
      if (failed) return void stream.resume();
      if (name !== "file") {
        stream.resume();
        return fail(new UnknownFieldError(name, 'the upload form (the document goes in a part named "file")'));
      }
      let filename: string;
      let contentType: string;
      try {
        filename = checkFilename(info.filename);
        contentType = resolveContentType(filename, info.mimeType);
      } catch (error) {
        stream.resume();
        return fail(error);
      }
      const key = uploadKey(randomUUID());
      const limited = stream.pipe(sizeLimiter(options.maxBytes));
      inFlight = limited;
      // The limiter can fail (empty, too large) before the store has attached to it; keep its reason.
      let limitError: unknown;
      limited.on("error", (error) => (limitError ??= error));
      stream.on("error", (error) => limited.destroy(error));
      stored = options.store.put(key, limited, { contentType }).then((meta) => ({ key, size: meta.size, filename, contentType }));
      stored.then(
        () => (inFlight = undefined),
        (error: unknown) => {
          inFlight = undefined;
          stream.unpipe();
          stream.resume();
          fail(limitError ?? error);
        },
      );
    });

    parser.on("filesLimit", () => fail(new InvalidRequestError("send exactly one file per upload")));
    parser.on("fieldsLimit", () => fail(new InvalidRequestError("too many form fields")));
    parser.on("partsLimit", () => fail(new InvalidRequestError("too many form parts")));
    parser.on("error", (error) => fail(new InvalidRequestError(`malformed multipart request: ${(error as Error).message}`)));
    parser.on("close", () => {
      if (failed) return;
      if (!stored) return fail(new InvalidRequestError('the upload has no part named "file"'));
      stored.then((upload) => {
        if (failed) return;
        resolved = true;
        stopWatching();
        resolve({ upload, fields });
      }, noop);
    });
    req.on("error", fail);
    req.on("close", () => {
      if (!req.complete) fail(new InvalidRequestError("the client closed the connection before the upload was complete"));
    });
    req.pipe(parser);
  });
}

const noop = () => undefined;

/**
 * Calls `tooSlow` when, over a window, the body arrived slower than the
 * minimum: a client that trickles bytes holds a connection and a temp file for
 * as long as it likes otherwise. Time the server itself held the body back
 * (backpressure from a slow store pauses the request) does not count, and a
 * window mostly paused is not judged. Returns the function that stops watching.
 */
export function watchUploadRate(req: Request, options: Pick<ReceiveOptions, "minBytesPerSecond" | "rateWindowMs">, tooSlow: (bytesPerSecond: number) => void): () => void {
  const min = options.minBytesPerSecond ?? 0;
  if (min <= 0) return noop;
  const windowMs = options.rateWindowMs ?? 30_000;
  let received = 0;
  let windowStart = performance.now();
  let pausedSince: number | undefined;
  let pausedMs = 0;
  const onData = (chunk: Buffer) => void (received += chunk.length);
  const onPause = () => void (pausedSince ??= performance.now());
  const onResume = () => {
    if (pausedSince !== undefined) pausedMs += performance.now() - pausedSince;
    pausedSince = undefined;
  };
  req.on("data", onData);
  req.on("pause", onPause);
  req.on("resume", onResume);
  const timer = setInterval(() => {
    const now = performance.now();
    if (pausedSince !== undefined) {
      pausedMs += now - pausedSince;
      pausedSince = now;
    }
    const activeMs = now - windowStart - pausedMs;
    const bytesPerSecond = (received * 1000) / Math.max(activeMs, 1);
    const judged = activeMs >= windowMs / 2;
    received = 0;
    pausedMs = 0;
    windowStart = now;
    if (judged && bytesPerSecond < min) tooSlow(bytesPerSecond);
  }, windowMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    req.off("data", onData);
    req.off("pause", onPause);
    req.off("resume", onResume);
  };
}

const MiB = 1024 * 1024;

/** How much of a refused upload is still read, and for how long, so that the client can read the answer. */
export interface DrainLimits {
  /** @defaultValue 8 MiB */
  bytes: number;
  /** @defaultValue 10_000 ms */
  ms: number;
}

const DEFAULT_DRAIN_LIMITS: DrainLimits = { bytes: 8 * MiB, ms: 10_000 };

/**
 * After refusing an upload before its body was read, read and discard the rest
 * instead of closing: closing a socket with unread data makes TCP reset the
 * connection, and a client still sending (Node's fetch) then reports
 * `write EPIPE` instead of our 4xx. Past a bound (bytes or time), or when the
 * client declared more than the bound, the connection is closed after the answer.
 */
export function drainRefusedUpload(req: Request, res: Response, limits: DrainLimits = DEFAULT_DRAIN_LIMITS, reason?: unknown): void {
  if (req.complete || req.destroyed) return;
  const declaredLength = Number(req.headers["content-length"] ?? NaN);
  // A client too slow to upload is too slow to drain: answer and close.
  if (declaredLength > limits.bytes || reason instanceof RequestTimeoutError) {
    res.setHeader("connection", "close");
    return;
  }
  let drained = 0;
  const close = () => req.socket.destroy();
  const timer = setTimeout(close, limits.ms).unref();
  req.once("close", () => clearTimeout(timer));
  req.on("data", (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > limits.bytes) close();
  });
  req.resume();
}

function sizeLimiter(maxBytes: number): Transform {
  let total = 0;
  return new Transform({
    transform(chunk: Buffer, _encoding, callback: TransformCallback) {
      total += chunk.length;
      if (total > maxBytes) callback(new PayloadTooLargeError(maxBytes));
      else callback(null, chunk);
    },
    flush(callback: TransformCallback) {
      callback(total === 0 ? new UnprocessableDocumentError("the uploaded file is empty (0 bytes)") : null);
    },
  });
}

/** The name is metadata only (storage keys are generated), but a path in it is a client bug or an attack. */
export function checkFilename(raw: string | undefined): string {
  const name = (raw ?? "").normalize("NFC");
  if (!name) throw new InvalidRequestError('the "file" part has no filename');
  if (name.length > 255) throw new InvalidRequestError("the filename is longer than 255 characters");
  if (/\p{Cc}/u.test(name)) throw new InvalidRequestError(`the filename ${JSON.stringify(name)} contains control characters`);
  if (/[\\/]/.test(name) || name === "." || name === "..") throw new InvalidRequestError(`the filename ${JSON.stringify(name)} must be a plain file name, without directories or '..'`);
  return name;
}
