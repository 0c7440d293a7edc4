import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { analyze, countTerms, matchedTerms, termId } from "./analyze.js";

/** Words of ASCII letters and digits, and the same words with accents on some vowels. */
const ACCENTED: Record<string, string[]> = { a: ["á", "à", "â", "ä", "å", "ã"], e: ["é", "è", "ê", "ë"], i: ["í", "ì", "î", "ï"], o: ["ó", "ò", "ô", "ö", "õ"], u: ["ú", "ù", "û", "ü"], c: ["ç"], n: ["ñ"], y: ["ý", "ÿ"] };
const asciiWord = fc.string({ unit: fc.constantFrom(..."abcdefghijklmnopqrstuvwxyz0123456789"), minLength: 1, maxLength: 12 });
const separator = fc.constantFrom(" ", "  ", "\n", ", ", ". ", " - ", "/", "(", ") ", "\t", "!? ", ": ");
const asciiText = fc.array(fc.tuple(asciiWord, separator), { maxLength: 30 }).map((parts) => parts.map(([w, s]) => w + s).join(""));
/** The same text with some letters accented (the choice drawn per letter). */
const accentedText = fc.tuple(asciiText, fc.infiniteStream(fc.nat())).map(([text, picks]) => {
  const choices = picks[Symbol.iterator]();
  return [...text].map((ch) => {
    const options = ACCENTED[ch];
    const pick = choices.next().value as number;
    return options && pick % 2 === 0 ? (options[pick % options.length] as string) : ch;
  }).join("");
});

describe("BM25 term analysis", () => {
  it("lowercases, splits on anything that is not a letter or digit, and drops a small English stop list", () => {
    expect(analyze("How do I replace the BP-48 battery pack, and is it safe?")).toEqual(["how", "do", "i", "replace", "bp", "48", "battery", "pack", "safe"]);
  });

  it("folds accented Latin letters to ASCII, and letters with no decomposition too", () => {
    expect(analyze("Café crème brûlée à la Straße, Æsir og Øresund, Łódź")).toEqual(["cafe", "creme", "brulee", "la", "strasse", "aesir", "og", "oresund", "lodz"]);
  });

  it("reads full-width and other compatibility forms as their plain letters", () => {
    expect(analyze("Ｃｈａｒｇｉｎｇ ＤＯＣＫ ﬁle")).toEqual(["charging", "dock", "file"]);
  });

  it("drops an English possessive and keeps contractions as one word", () => {
    expect(analyze("the robot's dock isn't ready; the robots’ docks")).toEqual(["robot", "dock", "isnt", "ready", "robots", "docks"]);
  });

  it("keeps words of other scripts whole, marks included", () => {
    expect(analyze("ग्राहक सेवा")).toEqual(["ग्राहक", "सेवा"]);
    expect(analyze("Ελληνικά κείμενα")).toEqual(["ελληνικα", "κειμενα"]);
  });

  it("leaves out words longer than 64 characters (encoded blobs, not words)", () => {
    expect(analyze(`dock ${"x".repeat(65)} ${"y".repeat(64)}`)).toEqual(["dock", "y".repeat(64)]);
  });

  it("is deterministic, and a term id is a stable unsigned 32-bit hash of the term", () => {
    fc.assert(fc.property(asciiText, (text) => {
      expect(analyze(text)).toEqual(analyze(text));
    }));
    expect(termId("battery")).toBe(termId("battery"));
    expect(termId("battery")).not.toBe(termId("batteries"));
    // Pinned: an index version's sparse vectors hold these ids, so they may never change.
    expect([termId("battery"), termId("dock"), termId("e402")]).toEqual([4251585678, 1089165978, 2481546850]);
    fc.assert(fc.property(fc.string(), (term) => Number.isInteger(termId(term)) && termId(term) >= 0 && termId(term) < 2 ** 32));
  });

  it("does not depend on case", () => {
    fc.assert(fc.property(accentedText, (text) => {
      expect(analyze(text.toUpperCase())).toEqual(analyze(text));
    }));
  });

  it("does not depend on accents of Latin letters", () => {
    fc.assert(fc.property(asciiText, fc.infiniteStream(fc.nat()), (text, picks) => {
      const choices = picks[Symbol.iterator]();
      const accented = [...text].map((ch) => {
        const options = ACCENTED[ch];
        const pick = choices.next().value as number;
        return options ? (options[pick % options.length] as string) : ch;
      }).join("");
      expect(analyze(accented)).toEqual(analyze(text));
    }));
  });

  it("splits plain ASCII text (its fast path) exactly as the Unicode path splits it", () => {
    const printable = fc.string({ unit: fc.constantFrom(..." \n\t'-.,;:!?()/AaBbEeSsTtXxZz019_", "it", "The", "'s", "don't"), maxLength: 60 });
    // A pilcrow is punctuation outside ASCII: it sends the text down the Unicode path and adds no term.
    fc.assert(fc.property(printable, (text) => {
      expect(analyze(text)).toEqual(analyze(`${text} ¶`));
    }));
  });

  it("names the query's terms a text holds, as analysed, each once and in query order", () => {
    expect(matchedTerms("How much clear floor does the CD-10 dock need? The dock!", "Docks need 1.5 m of CLEAR floor: the CD-10 dock.")).toEqual(["clear", "floor", "cd", "10", "dock", "need"]);
    expect(matchedTerms("the and of", "the and of")).toEqual([]);
  });

  it("counts each term of a text once with its frequency, by term id in ascending order, and the text's length in terms", () => {
    const counted = countTerms("Dock the dock; DOCK and battery");
    expect(counted.length).toBe(4);
    const byId = new Map([...counted.ids].map((id, i) => [id, counted.counts[i]]));
    expect(byId).toEqual(new Map([[termId("dock"), 3], [termId("battery"), 1]]));
    expect([...counted.ids]).toEqual([...counted.ids].sort((a, b) => a - b));
    fc.assert(fc.property(asciiText, (text) => {
      const { ids, counts, length } = countTerms(text);
      expect([...counts].reduce((a, b) => a + b, 0)).toBe(length);
      expect(length).toBe(analyze(text).length);
      expect(new Set(ids).size).toBe(ids.length);
    }));
  });
});
