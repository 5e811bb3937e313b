/**
 * The name rules of protocol §2.1: what a name may hold and when two names
 * conflict. The look-alike table is generated from the confusables data the
 * keys themselves use (the `unhomoglyph` package's copy of UTS #39's
 * confusables.txt), so every single-character look-alike of a Latin letter
 * or digit is checked, not a hand-picked few.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { nameKey, nameKeys, normalizeName, sameName } from "../../src/shared/names";

const confusables: Record<string, string> = JSON.parse(
  readFileSync(createRequire(import.meta.url).resolve("unhomoglyph/data.json"), "utf8"),
);

/** Every (look-alike, Latin letter or digit) pair of the data whose look-alike is one code point. */
const LATIN_TWINS = Object.entries(confusables).filter(
  ([from, to]) => /^[A-Za-z0-9]$/.test(to) && [...from].length === 1 && from !== to,
);

describe("names", () => {
  it("folds case the Unicode way: ß matches SS, the Kelvin sign matches k", () => {
    expect(nameKey("STRASSE")).toBe(nameKey("straße"));
    expect(nameKey("\u212aarl")).toBe(nameKey("karl"));
    expect(nameKey("Ǆemal")).toBe(nameKey("ǆemal"));
  });

  it("reserves `system` in every case, including the long s (ſ) that folds to s", () => {
    for (const spelling of ["system", "SYSTEM", "ſyſtem", " System\u0020"]) {
      expect(normalizeName(spelling, 32).ok, spelling).toBe(false);
    }
    expect(normalizeName("systems", 32).ok).toBe(true);
  });

  it("gives look-alikes one key: Cyrillic, Greek, fullwidth and mathematical letters meet Latin", () => {
    for (const twin of ["\u0410lice", "\u0391lice", "Ａｌｉｃｅ", "𝐀lice", "ALICE"]) {
      expect(nameKey(twin), twin).toBe(nameKey("alice"));
    }
    expect(nameKey("Bob")).not.toBe(nameKey("Rob"));
  });

  it("reserves every look-alike of `system`", () => {
    for (const spelling of ["\u0455ystem", "s\u0443stem", "ｓｙｓｔｅｍ", "\u13daystem", "𝐬𝐲𝐬𝐭𝐞𝐦"]) {
      expect(normalizeName(spelling, 32).ok, spelling).toBe(false);
    }
  });

  it("refuses a lone surrogate in a name", () => {
    expect(normalizeName("a\ud800b", 32).ok).toBe(false);
  });

  it("allows spaces, accents and scripts other than Latin", () => {
    for (const name of ["Ann Lee", "Zoë", "名前", "مرحبا", "😀 face"]) {
      expect(normalizeName(name, 32)).toMatchObject({ ok: true, name });
    }
  });
});

describe("look-alikes of Latin letters and digits (§2.1, version 3)", () => {
  it("the data holds over a thousand single-character look-alikes of Latin letters and digits", () => {
    expect(LATIN_TWINS.length).toBeGreaterThan(1000);
  });

  it("every single-character look-alike of a Latin letter or digit conflicts with it, upper and lower case", () => {
    const slipped: string[] = [];
    for (const [twin, latin] of LATIN_TWINS) {
      const name = normalizeName(twin, 32);
      // A look-alike that is no valid name at all cannot be joined beside anyone.
      if (!name.ok) continue;
      for (const letter of new Set([latin.toLowerCase(), latin.toUpperCase()])) {
        if (!sameName(name.keys, nameKeys(letter)))
          slipped.push(`${twin} U+${twin.codePointAt(0)?.toString(16)} ~ ${letter}`);
      }
    }
    expect(slipped).toEqual([]);
  });

  it("a look-alike inside a word conflicts with the Latin word", () => {
    const slipped: string[] = [];
    for (const [twin, latin] of LATIN_TWINS) {
      const name = normalizeName(`x${twin}y`, 32);
      if (!name.ok) continue;
      if (!sameName(name.keys, nameKeys(`X${latin.toUpperCase()}Y`))) slipped.push(twin);
    }
    expect(slipped).toEqual([]);
  });

  it("conflicts Cyrillic and Greek capitals with their Latin twins: Воb, Βοb, Моd, АDМІN, HeІdi", () => {
    const pairs: Array<[string, string]> = [
      ["\u0412\u043eb", "Bob"],
      ["\u0392\u03bfb", "Bob"],
      ["\u041c\u043ed", "Mod"],
      ["\u0410D\u041c\u0406N", "ADMIN"],
      ["He\u0406di", "Heidi"],
    ];
    for (const [twin, latin] of pairs) {
      const a = normalizeName(twin, 32);
      const b = normalizeName(latin, 32);
      expect(a.ok && b.ok && sameName(a.keys, b.keys), twin).toBe(true);
    }
  });

  it("refuses SYSТЕМ (Cyrillic Т, Е, М) and a lunate sigma's ϲ as look-alikes of `system`", () => {
    for (const spelling of ["SYS\u0422\u0415\u041c", "Sys\u0422em", "sy\u0455tem"]) {
      expect(normalizeName(spelling, 32).ok, spelling).toBe(false);
    }
    const cat = normalizeName("\u03f2at", 32);
    const latin = normalizeName("cat", 32);
    expect(cat.ok && latin.ok && sameName(cat.keys, latin.keys)).toBe(true);
  });

  it("keeps names that only share a shape apart: Bob and Rob, Ann and Anna", () => {
    expect(sameName(nameKeys("Bob"), nameKeys("Rob"))).toBe(false);
    expect(sameName(nameKeys("Ann"), nameKeys("Anna"))).toBe(false);
    expect(nameKey("Bob")).toBe(nameKeys("Bob")[0]);
  });
});
