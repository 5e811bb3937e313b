/**
 * The search rule of protocol §8.3, written once: how a text and a query
 * become words, and when a text matches. The room indexes these words
 * (SQLite FTS5 in production, a plain scan in the Node tests), and the
 * browser client highlights with the same split, so all three agree on
 * what "the words of a text" are.
 *
 * A word is a run of letters and digits; everything else (quotes, `*`, `-`,
 * `:`, parentheses, `OR` between spaces is a word like any other) only
 * separates. Words are compared in lower case without diacritics: each is
 * lowered, decomposed (NFD) and its combining marks dropped, so `Café`, `CAFE` and
 * `cafe` are one word.
 */
import { codePointLength } from "./text";

/** §8.3: the longest `q`, in code points, and the most words it may hold. */
export const MAX_QUERY_CHARS = 200;
export const MAX_QUERY_WORDS = 10;

const NOT_WORD = /[^\p{L}\p{N}]+/u;
const MARKS = /\p{M}/gu;
/**
 * Every chat's words are computed for the index, and most chats are ASCII.
 * In ASCII the only letters and digits are A–Z, a–z and 0–9, NFD changes
 * nothing and there are no marks, so the plain split below gives the same
 * words as the Unicode rule without its normalizing and property lookups
 * (test/node/search-words.test.ts checks the two agree).
 */
const ASCII = /^\p{ASCII}*$/u;
const NOT_ASCII_WORD = /[^a-z0-9]+/;

/** A text's words, folded: lower case, no diacritics, in order, repeats kept. */
export function searchWords(text: string): string[] {
  const words = ASCII.test(text) ? text.toLowerCase().split(NOT_ASCII_WORD) : foldUnicode(text).split(NOT_WORD);
  return words.filter((w) => w !== "");
}

function foldUnicode(text: string): string {
  // Lower case first: `İ` lowers to `i` and a combining dot, which NFD then
  // sees as a mark like any other and drops.
  return text.toLowerCase().normalize("NFD").replace(MARKS, "");
}

export type QueryCheck = { ok: true; words: string[] } | { ok: false; message: string };

/** §8.3: 1–200 code points holding 1–10 words; the words (deduplicated for the index), or why the query is refused. */
export function parseQuery(q: string): QueryCheck {
  const length = codePointLength(q);
  if (length < 1 || length > MAX_QUERY_CHARS) {
    return { ok: false, message: `A search is 1 to ${MAX_QUERY_CHARS} characters.` };
  }
  const all = searchWords(q);
  if (all.length === 0) return { ok: false, message: "A search needs at least one letter or digit." };
  // Counted as written: a repeated word is still a word of the query.
  if (all.length > MAX_QUERY_WORDS) return { ok: false, message: `A search has at most ${MAX_QUERY_WORDS} words.` };
  return { ok: true, words: [...new Set(all)] };
}

/** §8.3: every query word starts some word of the text. */
export function matches(text: string, words: readonly string[]): boolean {
  const own = searchWords(text);
  return words.every((w) => own.some((o) => o.startsWith(w)));
}

/**
 * Where a text's words start with a query word, as [start, end) offsets in
 * the original text, for highlighting (as text, never HTML). Folding can
 * change a word's length (NFD, `İ`), so each word of the text is folded on
 * its own and a match covers that whole word.
 */
export function highlights(text: string, words: readonly string[]): Array<[number, number]> {
  const found: Array<[number, number]> = [];
  for (const m of text.matchAll(/[\p{L}\p{N}\p{M}]+/gu)) {
    const own = searchWords(m[0]);
    if (own.some((o) => words.some((w) => o.startsWith(w)))) found.push([m.index, m.index + m[0].length]);
  }
  return found;
}
