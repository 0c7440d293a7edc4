import yauzl from "yauzl";
import { UnprocessableDocumentError } from "../../core/errors.js";

/**
 * Refuses zip containers (DOCX) that would inflate past the limits, before any
 * parser extracts them. The central directory gives the declared sizes;
 * inflating every entry with yauzl's size validation proves them, so a zip
 * that lies about its sizes fails too. Memory stays flat: entries are streamed
 * and discarded.
 */
export interface ZipLimits {
  maxEntries: number;
  maxUncompressedBytes: number;
}

const DEFAULT_ZIP_LIMITS: ZipLimits = { maxEntries: 5_000, maxUncompressedBytes: 200 * 1024 * 1024 };

/** Returns the content of the small entries named in `capture` (document properties), read during the same pass. */
export async function checkZipLimits(bytes: Buffer, limits: ZipLimits = DEFAULT_ZIP_LIMITS, what = "DOCX", capture: readonly string[] = []): Promise<Map<string, string>> {
  const captured = new Map<string, string>();
  const zip = await new Promise<yauzl.ZipFile>((resolve, reject) =>
    yauzl.fromBuffer(bytes, { lazyEntries: true, validateEntrySizes: true }, (error, file) =>
      error ? reject(new UnprocessableDocumentError(`the ${what} is not a readable zip container: ${error.message}`)) : resolve(file),
    ),
  );
  if (zip.entryCount > limits.maxEntries) {
    zip.close();
    throw new UnprocessableDocumentError(`the ${what} holds ${zip.entryCount} zip entries, more than the limit of ${limits.maxEntries} (zip bomb?)`);
  }
  let declared = 0;
  let inflated = 0;
  await new Promise<void>((resolve, reject) => {
    const fail = (error: Error) => {
      zip.close();
      reject(error);
    };
    zip.on("error", (error: Error) => fail(new UnprocessableDocumentError(`the ${what} is a corrupt zip container: ${error.message}`)));
    zip.on("end", () => resolve());
    zip.on("entry", (entry: yauzl.Entry) => {
      declared += entry.uncompressedSize;
      if (declared > limits.maxUncompressedBytes) {
        return fail(new UnprocessableDocumentError(`the ${what} would expand to more than ${formatMiB(limits.maxUncompressedBytes)} when unzipped (zip bomb?)`));
      }
      if (/\/$/.test(entry.fileName)) return zip.readEntry();
      zip.openReadStream(entry, (error, stream) => {
        if (error) return fail(new UnprocessableDocumentError(`the ${what} has an unreadable entry ${entry.fileName}: ${error.message}`));
        const keep = capture.includes(entry.fileName) && entry.uncompressedSize <= 256 * 1024 ? ([] as Buffer[]) : undefined;
        stream.on("data", (chunk: Buffer) => {
          keep?.push(chunk);
          inflated += chunk.length;
          if (inflated > limits.maxUncompressedBytes) {
            stream.destroy();
            fail(new UnprocessableDocumentError(`the ${what} expands to more than ${formatMiB(limits.maxUncompressedBytes)} when unzipped (zip bomb?)`));
          }
        });
        stream.on("error", (e: Error) => fail(new UnprocessableDocumentError(`the ${what} entry ${entry.fileName} is corrupt: ${e.message}`)));
        stream.on("end", () => {
          if (keep) captured.set(entry.fileName, Buffer.concat(keep).toString("utf8"));
          zip.readEntry();
        });
      });
    });
    zip.readEntry();
  });
  return captured;
}

function formatMiB(bytes: number): string {
  return `${Math.round(bytes / (1024 * 1024))} MiB`;
}
