import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../core/errors.js";
import { parseUploadFields } from "./upload-fields.js";

function rejection(fields: Record<string, string>): InvalidRequestError {
  try {
    parseUploadFields(fields);
  } catch (error) {
    if (error instanceof InvalidRequestError) return error;
    throw error;
  }
  throw new Error(`accepted ${JSON.stringify(fields)}`);
}

/** Days in a month of the proleptic Gregorian calendar, the oracle for the date property. */
function daysIn(year: number, month: number): number {
  const leap = year % 4 === 0 && (year % 100 !== 0 || year % 400 === 0);
  return [31, leap ? 29 : 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31][month - 1] ?? 0;
}

const pad = (n: number, width: number) => String(n).padStart(width, "0");
const controlChar = fc.oneof(fc.integer({ min: 0, max: 0x1f }), fc.constant(0x7f), fc.integer({ min: 0x80, max: 0x9f })).map((code) => String.fromCharCode(code));

describe("upload form fields", () => {
  it("refuses a control character anywhere in title or source with a 400 naming the field", () => {
    fc.assert(
      fc.property(fc.constantFrom("title", "source"), fc.string({ unit: "binary", maxLength: 40 }), controlChar, fc.string({ unit: "binary", maxLength: 40 }), (field, before, control, after) => {
        const error = rejection({ [field]: `${before}${control}${after}` });
        expect(error.status).toBe(400);
        expect(error.message).toMatch(new RegExp(`^${field}: `));
        expect(error.details).toMatchObject({ issues: expect.arrayContaining([expect.objectContaining({ path: [field] })]) });
      }),
    );
  });

  it("keeps printable title and source text, trimmed", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", minLength: 1, maxLength: 200 }).filter((s) => !/\p{Cc}/u.test(s) && s.trim() !== ""), (text) => {
        expect(parseUploadFields({ title: text, source: text })).toMatchObject({ title: text.trim(), source: text.trim() });
      }),
    );
  });

  it("accepts every real calendar date, alone or with a time", () => {
    fc.assert(
      fc.property(fc.date({ min: new Date("0000-01-01T00:00:00Z"), max: new Date("9999-12-31T23:59:59Z"), noInvalidDate: true }), (date) => {
        const iso = date.toISOString();
        expect(parseUploadFields({ date: iso.slice(0, 10) }).date).toBe(iso.slice(0, 10));
        expect(parseUploadFields({ date: iso }).date).toBe(iso);
        expect(parseUploadFields({ date: `${iso.slice(0, 19)}+02:00` }).date).toBe(`${iso.slice(0, 19)}+02:00`);
      }),
    );
  });

  it("accepts a year-month-day exactly when that day exists in that month", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 9999 }), fc.integer({ min: 0, max: 99 }), fc.integer({ min: 0, max: 99 }), (year, month, day) => {
        const date = `${pad(year, 4)}-${pad(month, 2)}-${pad(day, 2)}`;
        const exists = month >= 1 && month <= 12 && day >= 1 && day <= daysIn(year, month);
        if (exists) expect(parseUploadFields({ date }).date).toBe(date);
        else expect(rejection({ date }).message).toMatch(/^date: /);
      }),
    );
  });

  it.each(["2026-13-45", "2026-02-29", "2026-3-14", "14/03/2026", "2026-03-14T25:00:00Z", "2026-03-14 09:30", "2026-03-14T09:30:00Z\n"])("refuses the date %j", (date) => {
    expect(rejection({ date }).message).toMatch(/^date: must be a calendar date in ISO 8601/);
  });
});
