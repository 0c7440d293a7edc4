import { InvalidKeyError } from "./errors.js";

const MAX_KEY_BYTES = 1024;
// Control characters (including NUL) can hide a path from a reader of logs and break file systems.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u001f\u007f]/;

/**
 * Object keys are '/'-separated relative paths. They are checked before any
 * adapter touches storage, so no key can name a place outside the store.
 */
export function validateKey(key: string): string {
  if (typeof key !== "string" || key.length === 0) throw new InvalidKeyError(String(key), "key is empty");
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new InvalidKeyError(key.slice(0, 64) + "…", `key is longer than ${MAX_KEY_BYTES} bytes`);
  if (CONTROL.test(key)) throw new InvalidKeyError(key, "control characters (including NUL) are not allowed");
  if (key.includes("\\")) throw new InvalidKeyError(key, "backslashes are not allowed; use '/'");
  if (key.startsWith("/")) throw new InvalidKeyError(key, "absolute keys are not allowed");
  if (/^[A-Za-z]:/.test(key)) throw new InvalidKeyError(key, "drive-letter keys are not allowed");
  for (const segment of key.split("/")) {
    if (segment === "") throw new InvalidKeyError(key, "empty path segment ('//' or trailing '/')");
    if (segment === "." || segment === "..") throw new InvalidKeyError(key, "'.' and '..' segments are not allowed");
    if (segment.startsWith(".")) throw new InvalidKeyError(key, "segments starting with '.' are reserved");
  }
  return key;
}

/** A list prefix may end with '/' or be empty, but is otherwise held to the key rules. */
export function validatePrefix(prefix: string): string {
  if (prefix === "") return prefix;
  validateKey(prefix.endsWith("/") ? prefix.slice(0, -1) : prefix);
  return prefix;
}
