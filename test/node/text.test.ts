/**
 * The text rules of §2.2 and the length arithmetic every limit uses (src/shared/text.ts).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { checkText, codePointLength, exceedsUtf8Bytes, utf8Length } from "../../src/shared/text";

describe("text", () => {
  it("refuses C0 and C1 controls other than newline and tab with bad_message", () => {
    for (const control of ["\u0000", "\u0001", "\r", "\u000b", "\u001b", "\u007f", "\u0085", "\u009f"]) {
      expect(checkText(`a${control}b`, 100), JSON.stringify(control)).toMatchObject({ ok: false, code: "bad_message" });
    }
    expect(checkText("line\n\tindented", 100)).toEqual({ ok: true });
  });

  it("counts code points, not UTF-16 units", () => {
    expect(codePointLength("😀😀")).toBe(2);
    expect(codePointLength("a\ud800")).toBe(2);
    expect(checkText("😀".repeat(3), 3)).toEqual({ ok: true });
    expect(checkText("😀".repeat(4), 3)).toMatchObject({ ok: false, code: "too_long" });
  });

  it("decides the UTF-8 size limit exactly, as TextEncoder would count it", () => {
    const samples = ["", "a", "é", "€", "😀", "a\ud800", "\udc00x", "€😀a".repeat(50), "x".repeat(300)];
    for (const s of samples) {
      const bytes = new TextEncoder().encode(s).length;
      for (const max of [0, bytes - 1, bytes, bytes + 1].filter((m) => m >= 0)) {
        expect(exceedsUtf8Bytes(s, max), `${JSON.stringify(s)} vs ${max}`).toBe(bytes > max);
      }
    }
  });
  it("counts a frame's UTF-8 bytes as TextEncoder does, ASCII or not", () => {
    // Frames are JSON.stringify output, which escapes lone surrogates, so
    // well-formed strings are the domain.
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), fc.string(), (wide, ascii) => {
        for (const s of [wide, ascii, ascii + wide]) expect(utf8Length(s)).toBe(new TextEncoder().encode(s).length);
      }),
    );
  });
});
