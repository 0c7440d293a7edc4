import { z } from "zod";
import { documentIdSchema } from "../queues/ingest-queue.js";
import { parseBody } from "./errors.js";

/**
 * The form fields of an upload, as the README promises them: text without
 * control characters (they end up in search results, logs and terminals) and
 * dates that are real calendar dates in ISO 8601.
 */
const tagSchema = z.string().regex(/^[A-Za-z0-9][\w.:-]{0,63}$/, "tags are 1-64 letters, digits, '_', '.', ':' or '-'");

/** Checked before trimming, so a trailing CR or LF is refused rather than silently dropped. */
const printableText = (max: number) =>
  z
    .string()
    .regex(/^\P{Cc}*$/u, "must not contain control characters (NUL, ESC, tab, CR, LF, ...)")
    .trim()
    .min(1, "must not be empty")
    .max(max, `must be at most ${max} characters`);

const isoDate = z.iso.date();
const isoDateTime = z.iso.datetime({ offset: true, local: true });

/** An ISO 8601 calendar date, or date and time; month and day must exist (2026-02-29 does not). */
const isoDateSchema = z
  .string()
  .refine((value) => isoDate.safeParse(value).success || isoDateTime.safeParse(value).success, "must be a calendar date in ISO 8601, e.g. 2026-03-14 or 2026-03-14T09:30:00Z");

const uploadFieldsSchema = z.strictObject({
  id: documentIdSchema.optional(),
  title: printableText(512).optional(),
  tags: z
    .string()
    .optional()
    .transform((value) => (value ?? "").split(",").map((tag) => tag.trim()).filter(Boolean))
    .pipe(z.array(tagSchema).max(64)),
  source: printableText(2048).optional(),
  date: isoDateSchema.optional(),
});

export type UploadFields = z.infer<typeof uploadFieldsSchema>;

const WHERE = "the upload form";

export function parseUploadFields(fields: Record<string, string>): UploadFields {
  return parseBody(uploadFieldsSchema, fields, WHERE);
}

/** One field as it arrives, so that a bad field is refused before the file is read. */
export function checkUploadField(name: string, value: string): void {
  parseUploadFields({ [name]: value });
}
