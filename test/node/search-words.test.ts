/**
 * The search rule of §8.3 as one module (src/shared/search.ts), which the
 * room's index, the Node tests' memory store and the page's highlighting
 * all use: words, folding, the query's bounds, matching and highlights.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { highlights, MAX_QUERY_WORDS, matches, parseQuery, searchWords } from "../../src/shared/search";

describe("search words (§8.3)", () => {
  it("splits at every character that is not a letter or digit, lowered and without diacritics", () => {
    expect(searchWords("Meet @ the CAFÉ: x-ray (draft) #42 naïve İstanbul")).toEqual([
      "meet",
      "the",
      "cafe",
      "x",
      "ray",
      "draft",
      "42",
      "naive",
      "istanbul",
    ]);
    expect(searchWords("中文 字符")).toEqual(["中文", "字符"]);
  });

  it("gives an ASCII text the same words as the Unicode rule, which its fast path skips", () => {
    const unicodeRule = (text: string) =>
      text
        .toLowerCase()
        .normalize("NFD")
        .replace(/\p{M}/gu, "")
        .split(/[^\p{L}\p{N}]+/u)
        .filter((w) => w !== "");
    const ascii = fc.string({ unit: fc.integer({ min: 0, max: 0x7f }).map((c) => String.fromCharCode(c)) });
    fc.assert(
      fc.property(fc.oneof(ascii, fc.string({ unit: "grapheme" })), (text) => {
        expect(searchWords(text)).toEqual(unicodeRule(text));
      }),
    );
  });

  it("refuses a query with no word, more than ten words as written, or over 200 code points", () => {
    expect(parseQuery("* - ( ) :").ok).toBe(false);
    expect(parseQuery(Array.from({ length: MAX_QUERY_WORDS + 1 }, () => "a").join(" ")).ok).toBe(false);
    expect(parseQuery("x".repeat(201)).ok).toBe(false);
    // Code points, not UTF-16 units: 200 astral letters are a valid query.
    expect(parseQuery("𝐀".repeat(200)).ok).toBe(true);
    expect(parseQuery("𝐀".repeat(201)).ok).toBe(false);
    expect(parseQuery("a a b")).toEqual({ ok: true, words: ["a", "b"] });
  });

  it("matches when every query word starts some word of the text", () => {
    const words = (q: string) => (parseQuery(q) as { words: string[] }).words;
    expect(matches("that link Ann posted", words("ann LINK"))).toBe(true);
    expect(matches("that link Ann posted", words("ann links"))).toBe(false);
    expect(matches("Café au lait", words("cafe"))).toBe(true);
    expect(matches("Café au lait", words("afe"))).toBe(false);
  });

  it("marks whole words of the original text that a query word starts", () => {
    const text = "the <b>Café</b> needle, café!";
    expect(highlights(text, ["cafe", "need"]).map(([a, b]) => text.slice(a, b))).toEqual(["Café", "needle", "café"]);
  });

  it("never throws on any text or query, and a valid query's words are letters and digits only", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme", maxLength: 80 }), fc.string({ maxLength: 80 }), (text, q) => {
        const query = parseQuery(q);
        if (!query.ok) return;
        expect(query.words.every((w) => /^[\p{L}\p{N}]+$/u.test(w))).toBe(true);
        matches(text, query.words);
        highlights(text, query.words);
      }),
    );
  });
});
