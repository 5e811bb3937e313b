/**
 * The wire module's parser and encoders (src/shared/protocol.ts, server-frames.ts), directly.
 */
import { describe, expect, it } from "vitest";
import { parseClientFrame } from "../../src/shared/protocol";
import { type ChatFrame, encode, encodeWelcome, type WelcomeHead } from "../../src/shared/server-frames";

describe("parseClientFrame", () => {
  it("returns the typed frame for a valid message", () => {
    expect(parseClientFrame('{"type":"chat","text":"hi","id":"1"}', 100)).toEqual({
      ok: true,
      frame: { type: "chat", text: "hi", id: "1" },
    });
  });

  it("drops unknown fields from the frame it returns", () => {
    const result = parseClientFrame('{"type":"typing","extra":1}', 100);
    expect(result).toEqual({ ok: true, frame: { type: "typing" } });
  });

  it("checks size before parsing", () => {
    expect(parseClientFrame("x".repeat(101), 100)).toMatchObject({ ok: false, code: "too_large" });
  });
});

describe("encodeWelcome", () => {
  it("produces the same JSON as encoding the frame with history last", () => {
    const chat: ChatFrame = { type: "chat", room: "r", seq: 1, v: 1, name: "A", text: 'q"\\', ts: 5 };
    const welcome: WelcomeHead = {
      type: "welcome",
      room: "r",
      name: "A",
      users: ["A"],
      members: [{ name: "A" }],
      role: "member",
      settings: { slowmode: 0 },
      seq: 1,
      token: "t",
      gap: false,
    };
    const spliced = encodeWelcome(welcome, [encode(chat)]);
    expect(JSON.parse(spliced)).toEqual({ ...welcome, history: [chat] });
    expect(encodeWelcome(welcome, [])).toBe(JSON.stringify({ ...welcome, history: [] }));
  });
});
