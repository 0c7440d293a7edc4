import { randomUUID } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import type { Request } from "express";
import busboy from "busboy";
import { resolveContentType } from "../documents/content-types.js";
import { InvalidRequestError, PayloadTooLargeError, UnknownFieldError, UnprocessableDocumentError, UnsupportedMediaTypeError } from "../errors.js";
import { uploadKey } from "../documents/records.js";
import type { StoredUpload } from "../documents/service.js";
import type { ObjectStore } from "../stores/object-store.js";

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
}

const FORM_OVERHEAD_BYTES = 1024 * 1024;

export function receiveUpload(req: Request, options: ReceiveOptions): Promise<ReceivedUpload> {
  const declaredLength = Number(req.headers["content-length"] ?? NaN);
  if (declaredLength > options.maxBytes + FORM_OVERHEAD_BYTES) return Promise.reject(new PayloadTooLargeError(options.maxBytes));
  if (!req.is("multipart/form-data")) {
    return Promise.reject(new UnsupportedMediaTypeError('uploads must be multipart/form-data with the document in a part named "file"'));
  }
  return new Promise((resolve, reject) => {
    const fields: Record<string, string> = {};
    let stored: Promise<StoredUpload> | undefined;
    let failed = false;
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, preservePath: true, limits: { files: 1, fields: 20, fieldSize: 64 * 1024, parts: 24 } });
    } catch (error) {
      reject(new InvalidRequestError(`malformed multipart request: ${(error as Error).message}`));
      return;
    }

    const fail = (error: unknown) => {
      if (failed) return;
      failed = true;
      req.unpipe(parser);
      req.resume(); // drain and discard what the client still sends
      void stored?.then((upload) => options.store.delete(upload.key)).catch(() => undefined);
      reject(error);
    };

    parser.on("field", (name, value, info) => {
      if (!options.allowedFields.includes(name)) return fail(new UnknownFieldError(name, `the upload form (allowed: file, ${options.allowedFields.join(", ")})`));
      if (info.valueTruncated) return fail(new InvalidRequestError(`form field "${name}" is longer than 64 KiB`));
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
      // The limiter can fail (empty, too large) before the store has attached to it; keep its reason.
      let limitError: unknown;
      limited.on("error", (error) => (limitError ??= error));
      stream.on("error", (error) => limited.destroy(error));
      stored = options.store.put(key, limited, { contentType }).then((meta) => ({ key, size: meta.size, filename, contentType }));
      stored.catch((error: unknown) => {
        stream.unpipe();
        stream.resume();
        fail(limitError ?? error);
      });
    });

    parser.on("filesLimit", () => fail(new InvalidRequestError("send exactly one file per upload")));
    parser.on("fieldsLimit", () => fail(new InvalidRequestError("too many form fields")));
    parser.on("partsLimit", () => fail(new InvalidRequestError("too many form parts")));
    parser.on("error", (error) => fail(new InvalidRequestError(`malformed multipart request: ${(error as Error).message}`)));
    parser.on("close", () => {
      if (failed) return;
      if (!stored) return fail(new InvalidRequestError('the upload has no part named "file"'));
      stored.then((upload) => (failed ? undefined : resolve({ upload, fields })), fail);
    });
    req.on("error", fail);
    req.on("aborted", () => fail(new InvalidRequestError("the client aborted the upload")));
    req.pipe(parser);
  });
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
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new InvalidRequestError("the filename contains control characters");
  if (/[\\/]/.test(name) || name === "." || name === "..") throw new InvalidRequestError(`the filename ${JSON.stringify(name)} must be a plain file name, without directories or '..'`);
  return name;
}
