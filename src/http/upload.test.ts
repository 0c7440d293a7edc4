import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { InvalidRequestError } from "../../core/errors.js";
import { checkFilename } from "./upload.js";

const printable = fc.string({ unit: "binary", maxLength: 30 }).filter((s) => !/[\p{Cc}/\\]/u.test(s));

describe("upload file names", () => {
  it("refuses any name holding a path separator: the stored name is a base name, never a path", () => {
    fc.assert(
      fc.property(printable, fc.constantFrom("/", "\\", "../", "..\\", "/etc/"), printable, (before, separator, after) => {
        expect(() => checkFilename(`${before}${separator}${after}passwd`)).toThrow(InvalidRequestError);
      }),
    );
  });

  it("keeps any other printable name, in Unicode NFC", () => {
    fc.assert(
      fc.property(printable.filter((s) => s !== "" && s !== "." && s !== ".."), (name) => {
        expect(checkFilename(name)).toBe(name.normalize("NFC"));
      }),
    );
  });

  it.each(["", ".", "..", "a\u0000.md", "a\u001b[31m.md", "a\r\n.md", "a\u0085.md"])("refuses the name %j", (name) => {
    expect(() => checkFilename(name)).toThrow(InvalidRequestError);
  });
});
