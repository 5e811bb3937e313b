/**
 * The text rules of protocol §2.2 and the length arithmetic every limit
 * uses: code points (as the protocol counts characters) and UTF-8 bytes (as
 * frames and budgets are measured).
 */

export type TextCheck = { ok: true } | { ok: false; code: "bad_message" | "too_long"; message: string };

/**
 * C0 and C1 controls (Unicode Cc) except tab and newline. They print as
 * nothing, and JSON escapes each to six bytes (`\u0001`), so a text of them
 * is the cheapest way to make every welcome six times its input.
 */
const CONTROL_IN_TEXT = /[^\P{Cc}\t\n]/u;

/** Shared: a text passes on every chat, and the answer carries nothing of it. */
const TEXT_OK: TextCheck = Object.freeze({ ok: true });

/**
 * The chat and dm text rules: something visible, no controls, at most
 * maxChars code points. `blankOk`: a chat with files may have no text (§11.2).
 */
export function checkText(text: string, maxChars: number, blankOk = false): TextCheck {
  if (!blankOk && !/\S/u.test(text)) {
    return { ok: false, code: "bad_message", message: "A message needs at least one non-space character." };
  }
  if (CONTROL_IN_TEXT.test(text)) {
    return {
      ok: false,
      code: "bad_message",
      message: "A message may not hold control characters other than newline and tab.",
    };
  }
  // Each code point is at most two UTF-16 units, so short strings skip the count.
  if (text.length > maxChars && codePointLength(text) > maxChars) {
    return { ok: false, code: "too_long", message: `A message may be at most ${maxChars} characters.` };
  }
  return TEXT_OK;
}

/** Length in Unicode code points; a lone surrogate counts as one. */
export function codePointLength(s: string): number {
  let n = s.length;
  for (let i = 0; i < s.length; i++) {
    if (isHighSurrogate(s.charCodeAt(i)) && isLowSurrogate(s.charCodeAt(i + 1))) {
      n--;
      i++;
    }
  }
  return n;
}

/**
 * Whether a string's UTF-8 encoding is longer than `max` bytes, decided
 * without encoding it: every UTF-16 unit is 1..3 bytes (a surrogate pair is
 * 4 bytes for 2 units), so the bounds settle most frames in O(1).
 */
export function exceedsUtf8Bytes(s: string, max: number): boolean {
  if (s.length > max) return true;
  if (s.length * 3 <= max) return false;
  let bytes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A low surrogate that completes a pair adds 1: the pair is 4 bytes and
    // its high half already counted 3. So the running total never falls, and
    // crossing `max` early is final.
    const pairLow = isLowSurrogate(c) && isHighSurrogate(s.charCodeAt(i - 1));
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : pairLow ? 1 : 3;
    if (bytes > max) return true;
  }
  return false;
}

/** Any UTF-16 unit that is not ASCII. */
const NON_ASCII = /[^\0-\x7f]/;

/** UTF-8 length without encoding: 1 byte below U+0080, 2 below U+0800, 3 above, 4 per surrogate pair. */
export function utf8Length(s: string): number {
  // Most frames are ASCII (JSON punctuation, keys, Latin names), and the
  // regex engine scans a 64 KiB welcome several times faster than this loop.
  if (!NON_ASCII.test(s)) return s.length;
  let bytes = s.length;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    // A surrogate pair is two units and four bytes: each half adds one.
    if (c >= 0x80) bytes += c < 0x800 || (c >= 0xd800 && c <= 0xdfff) ? 1 : 2;
  }
  return bytes;
}

// charCodeAt past either end is NaN, which is neither.
function isHighSurrogate(c: number): boolean {
  return c >= 0xd800 && c <= 0xdbff;
}

function isLowSurrogate(c: number): boolean {
  return c >= 0xdc00 && c <= 0xdfff;
}
