/**
 * The wire module's parser and encoders (src/shared/protocol.ts, server-frames.ts), directly.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseClientFrame } from "../../src/shared/protocol";
import {
  type ChatFrame,
  encode,
  encodeChat,
  encodeNewChat,
  encodeWelcome,
  type WelcomeHead,
} from "../../src/shared/server-frames";

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

describe("encodeNewChat", () => {
  it("writes the same frame as encodeChat of the message numbered with its seq", () => {
    const person = fc.record({ name: fc.string({ minLength: 1 }) }, { requiredKeys: ["name"] });
    const file = fc.record(
      {
        id: fc.string({ minLength: 1 }),
        name: fc.string({ minLength: 1 }),
        type: fc.string({ minLength: 1 }),
        size: fc.nat(),
        width: fc.nat(),
        height: fc.nat(),
      },
      { requiredKeys: ["id", "name", "type", "size"] },
    );
    const message = fc.record(
      {
        room: fc.string({ minLength: 1 }),
        name: fc.string({ minLength: 1 }),
        user: fc.string({ minLength: 1 }),
        text: fc.string(),
        ts: fc.nat(),
        id: fc.string({ minLength: 1 }),
        bot: fc.constant(true as const),
        replyTo: fc.integer({ min: 1 }),
        edited: fc.nat(),
        deleted: fc.constant(true as const),
        reactions: fc.dictionary(
          fc.string({ minLength: 1 }),
          fc.record({ count: fc.nat(), names: fc.array(fc.string()) }),
        ),
        files: fc.array(file, { maxLength: 3 }),
        mentions: fc.array(person, { maxLength: 3 }),
      },
      { requiredKeys: ["room", "name", "text", "ts"] },
    );
    fc.assert(
      fc.property(message, fc.integer({ min: 1 }), (m, seq) => {
        expect(encodeNewChat(m, seq)).toBe(encodeChat({ ...m, seq, v: seq }));
      }),
    );
  });
});
