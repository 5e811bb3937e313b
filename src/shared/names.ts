/**
 * The name rules of protocol §2.1: what a name may hold, and the key two
 * names are compared by (case-insensitive, blind to look-alikes). Apart from
 * protocol.ts because the confusables table is large and only the server
 * needs it: the browser bundle never imports this file.
 */
import unhomoglyph from "unhomoglyph";
import { codePointLength } from "./text";

/**
 * Refused anywhere in a name, because two names that look alike could differ
 * by one of them, or a name could look empty:
 * - Cc (controls), Cf (format: zero-width joiners, bidi overrides, BOM) and
 *   Cs (a lone surrogate, only reachable through a JSON `\ud800` escape);
 * - default-ignorable code points (variation selectors U+FE0F and U+E0100,
 *   U+034F, the Hangul fillers U+115F, U+1160, U+3164 and U+FFA0, U+17B4,
 *   U+180B, …): renderers draw nothing for them;
 * - private-use (Co) and unassigned (Cn) code points, which render as
 *   whatever a font decides, and U+2800 BRAILLE PATTERN BLANK, a visible-width
 *   blank that Unicode classes as a symbol.
 */
const FORBIDDEN_IN_NAME = /[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Default_Ignorable_Code_Point}\u2800]/u;
/** A letter, digit, punctuation or symbol: what makes a name visible at all. */
const VISIBLE = /[\p{L}\p{N}\p{P}\p{S}]/u;

export type NameResult = { ok: true; name: string; key: string; keys: NameKeys } | { ok: false; message: string };

/**
 * Every key a name is compared by (§2.1). Two names conflict when any of
 * their keys at the same position are equal: `[0]` is the name's identity
 * (`key`, what members, budgets and sanctions are stored under), the others
 * exist only to find conflicts the identity key misses.
 */
export type NameKeys = readonly [key: string, foldThenSkeleton: string, skeletonThenFold: string];

/**
 * Applies the join rules: trim, NFC, 1..maxChars code points, nothing
 * invisible (above), at least one visible character, and not `system` or a
 * look-alike of it. `key` is the identity used for uniqueness and lookups.
 */
export function normalizeName(raw: string, maxChars: number): NameResult {
  const name = raw.trim().normalize("NFC");
  const length = codePointLength(name);
  if (length === 0) return { ok: false, message: "A name needs at least one visible character." };
  if (length > maxChars) return { ok: false, message: `A name may be at most ${maxChars} characters.` };
  if (FORBIDDEN_IN_NAME.test(name)) {
    return { ok: false, message: "A name may not hold control or invisible characters." };
  }
  if (!VISIBLE.test(name)) return { ok: false, message: "A name needs at least one visible character." };
  const keys = nameKeys(name);
  if (sameName(keys, SYSTEM_KEYS)) return { ok: false, message: "The name `system` is reserved." };
  return { ok: true, name, key: keys[0], keys };
}

/**
 * The identity of a name: two names with the same key cannot both be held.
 * It is case-insensitive and, from protocol v2, blind to look-alikes: the
 * confusable skeleton of Unicode UTS #39 (the `unhomoglyph` package ships the
 * mapping of confusables.txt), so `Аlice` (Cyrillic А), `Αlice` (Greek),
 * `Ａｌｉｃｅ` (fullwidth) and `𝐀lice` (mathematical bold) all meet `alice`.
 *
 * How: NFKC first folds compatibility forms the skeleton map leaves alone
 * (fullwidth, mathematical letters, ligatures, the long s ſ). Then the
 * skeleton is taken of the lower-, the upper- and again the lower-case form:
 * case-insensitivity and look-alikes must compose, and some look-alikes
 * exist in one case only (upper-case `I` looks like `l`, Greek `ν` like `v`),
 * so `Ian`, `ian` and `lan` all end on one key. Upper- then lower-casing
 * also approximates Unicode full case folding (ß, the Kelvin sign, Ǆ). The
 * key is never shown to anyone (`m` becomes `rn` in it); it is only compared.
 */
export function nameKey(name: string): string {
  const lower = skeleton(name.normalize("NFKC").toLowerCase());
  return skeleton(skeleton(lower.toUpperCase()).toLowerCase());
}

/**
 * A name's identity key and the two comparisons §2.1 (version 3) names:
 * case folding then skeleton, and skeleton then case folding (then the
 * skeleton again). The identity
 * key alone misses capitals whose lower case is a small capital the
 * skeleton leaves alone: Cyrillic `В` lower-cases to `в`, whose prototype is
 * `ʙ`, not `b`, so `Воb` met `Bob` only through the skeleton of the capital
 * itself. No NFKC before these two skeletons: it can remove a confusable
 * mapping (`ϲ`, lunate sigma, looks like `c` but NFKC makes it `ς`).
 * test/node/names.test.ts checks every single-character confusable of every
 * Latin letter and digit in the data, in both cases.
 */
export function nameKeys(name: string): NameKeys {
  // The last skeleton makes the second key blind to case as well: the
  // prototypes of some letters exist in one case only (`m` is `rn`, `M` is
  // `M`), so `SYSТЕМ` → `SYSTEM` → `system` must be taken once more to meet
  // `system` → `systern`. It only adds conflicts to the rule's.
  return [nameKey(name), skeleton(caseFold(name)), skeleton(caseFold(skeleton(name)))];
}

/** Whether two names conflict: equal at any position of their keys. */
export function sameName(a: NameKeys, b: NameKeys): boolean {
  return a[0] === b[0] || a[1] === b[1] || a[2] === b[2];
}

/**
 * Unicode full case folding, as near as JavaScript gets: upper then lower
 * case folds `ß` to `ss`, the Kelvin sign to `k` and `ǅ` to `ǆ`, and the
 * final NFD keeps the result comparable with a skeleton.
 */
function caseFold(s: string): string {
  return s.toUpperCase().toLowerCase().normalize("NFD");
}

/** UTS #39 skeleton: NFD, map each confusable to its prototype, NFD again. */
function skeleton(s: string): string {
  return unhomoglyph(s.normalize("NFD")).normalize("NFD");
}

const SYSTEM_KEYS = nameKeys("system");
