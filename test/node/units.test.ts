import fc from "fast-check";
/**
 * The pure building blocks, tested directly: the protocol's name and text
 * rules and parser, the rate bucket and the roster. The socket-level tests
 * prove the same rules end to end; these pin the edge cases cheaply.
 */
import { describe, expect, it } from "vitest";
import { Members } from "../../src/room/state/members";
import { newSocketState, type SocketState } from "../../src/room/state/socket-state";
import { DEFAULT_LIMITS } from "../../src/shared/limits";
import { nameKey } from "../../src/shared/names";
import { parseClientFrame } from "../../src/shared/protocol";
import { fullBucket, spend } from "../../src/shared/rate-limit";
import { type ChatFrame, encode, encodeWelcome, type WelcomeHead } from "../../src/shared/server-frames";
import { checkText, codePointLength, exceedsUtf8Bytes, utf8Length } from "../../src/shared/text";
import { addressKey } from "../../src/worker/address";
import { MemoryAwayStore } from "../support/memory-room";

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

describe("client addresses", () => {
  it("counts IPv4 addresses one by one and IPv6 addresses by their /64", () => {
    expect(addressKey("203.0.113.7")).toBe("203.0.113.7");
    expect(addressKey("2001:db8:1:2:aaaa::1")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:0db8:0001:0002:ffff:ffff:ffff:ffff")).toBe("2001:db8:1:2::/64");
    expect(addressKey("2001:db8::1")).toBe("2001:db8:0:0::/64");
    expect(addressKey("::ffff:192.0.2.1")).toBe("192.0.2.1");
  });

  it("counts a request without an address as `unknown`, and keeps what it cannot parse as it is", () => {
    expect(addressKey(undefined)).toBe("unknown");
    expect(addressKey("")).toBe("unknown");
    expect(addressKey("not:an:address:::")).toBe("not:an:address:::");
  });
});

describe("rate bucket", () => {
  it("allows a burst, refuses the next, and refills at the given rate", () => {
    let bucket = fullBucket(3, 0);
    for (let i = 0; i < 3; i++) {
      const next = spend(bucket, { burst: 3, perSec: 2 }, 0);
      expect(next).not.toBeNull();
      bucket = next ?? bucket;
    }
    expect(spend(bucket, { burst: 3, perSec: 2 }, 0)).toBeNull();
    expect(spend(bucket, { burst: 3, perSec: 2 }, 499)).toBeNull(); // 0.998 tokens
    expect(spend(bucket, { burst: 3, perSec: 2 }, 500)).not.toBeNull(); // 1 token after 0.5 s at 2/s
  });

  it("never refills beyond the burst", () => {
    const bucket = spend(fullBucket(2, 0), { burst: 2, perSec: 10 }, 0);
    expect(bucket?.tokens).toBe(1);
    const later = spend(bucket ?? fullBucket(2, 0), { burst: 2, perSec: 10 }, 60_000);
    expect(later?.tokens).toBe(1);
  });

  it("ignores a clock that went backwards", () => {
    const bucket = { tokens: 0, at: 10_000 };
    expect(spend(bucket, { burst: 5, perSec: 1 }, 5_000)).toBeNull();
  });
});

describe("members", () => {
  type Socket = { id: string };
  const state = (address: string, name?: string, order = 0, user?: string): SocketState => ({
    ...newSocketState(DEFAULT_LIMITS, address, 0),
    ...(name ? { member: { name, key: nameKey(name), token: "t", order, ...(user ? { user } : {}) } } : {}),
  });
  const saved: Array<[string, SocketState]> = [];
  const away = new MemoryAwayStore();
  const members = () => new Members<Socket>((socket, s) => saved.push([socket.id, structuredClone(s)]), away);
  const bucket = fullBucket(DEFAULT_LIMITS.rateBurst, 0);

  it("restores join order from attachments in any order and continues numbering after it", () => {
    const m = members();
    const [a, b, c, d] = [{ id: "a" }, { id: "b" }, { id: "c" }, { id: "d" }];
    m.restore([
      [c, state("x", "C", 7)],
      [a, state("x", "A", 2)],
      [b, state("x", "B", 5)],
    ]);
    expect(m.names()).toEqual(["A", "B", "C"]);
    m.open(d, state("x"));
    expect(m.join(d, { name: "D", key: "d", token: "t" }, bucket).member.order).toBe(8);
  });

  it("restores a verified user's several sockets as one member, and a guest's duplicate as nobody", () => {
    const m = members();
    const [u1, u2, g1, g2] = [{ id: "u1" }, { id: "u2" }, { id: "g1" }, { id: "g2" }];
    m.restore([
      [u1, state("x", "Ann", 0, "sub-ann")],
      [u2, state("x", "Ann", 0, "sub-ann")],
      [g1, state("x", "Ben", 1)],
      [g2, state("x", "Ben", 1)],
    ]);
    expect(m.names()).toEqual(["Ann", "Ben"]);
    expect(m.ofUser("sub-ann")?.sockets).toEqual([u1, u2]);
    expect(m.holder(nameKey("Ben"))?.sockets).toEqual([g1]);
    expect(m.stateOf(g2)?.member).toBeUndefined();
  });

  it("keeps a name's place when it is handed to a new socket, and the old socket then frees nothing", () => {
    const m = members();
    const [a1, a2, b] = [{ id: "a1" }, { id: "a2" }, { id: "b" }];
    m.restore([
      [a1, state("x", "A", 0)],
      [b, state("x", "B", 1)],
    ]);
    m.open(a2, state("x"));
    const membership = m.holder(nameKey("A"));
    if (!membership) throw new Error("A is not held");
    expect(m.handOver(membership, a2)).toBe(a1);
    expect(m.names()).toEqual(["A", "B"]);
    expect(m.close(a1).kind).toBe("none");
    const last = m.close(a2);
    expect(last.kind === "left" && last.membership.member.name).toBe("A");
    expect(m.names()).toEqual(["B"]);
  });

  it("keeps a member whose last socket dropped, as a row, until they return", () => {
    const m = members();
    const [a, again] = [{ id: "a" }, { id: "again" }];
    m.open(a, state("x"));
    m.join(a, { name: "Ann", key: nameKey("Ann"), token: "t" }, bucket);
    expect(m.close(a, 5000).kind).toBe("away");
    expect([m.names(), [...away.rows.keys()]]).toEqual([["Ann"], [nameKey("Ann")]]);
    const rebuilt = members();
    rebuilt.restore([], away.load());
    const membership = rebuilt.holder(nameKey("Ann"));
    if (!membership) throw new Error("Ann is not held after a rebuild");
    rebuilt.open(again, state("x"));
    rebuilt.attach(membership, again, bucket);
    expect([membership.awayUntil, away.rows.size, rebuilt.joinedSockets().next().value]).toEqual([undefined, 0, again]);
  });

  it("refuses to join a name that is already held", () => {
    const m = members();
    const [a, x] = [{ id: "a" }, { id: "x" }];
    m.restore([[a, state("x", "A", 0)]]);
    m.open(x, state("x"));
    expect(() => m.join(x, { name: "a", key: nameKey("a"), token: "t" }, bucket)).toThrow();
  });

  it("writes the socket's state through on every change, so hibernation keeps it", () => {
    const m = members();
    const a = { id: "a" };
    saved.length = 0;
    m.open(a, state("x"));
    m.join(a, { name: "Ann", key: nameKey("Ann"), token: "t" }, bucket);
    m.leave(a);
    expect(saved.map(([id, s]) => [id, s.member?.name])).toEqual([
      ["a", undefined],
      ["a", "Ann"],
      ["a", undefined],
    ]);
  });

  it("counts sockets per address, joined or not, and frees the count on close", () => {
    const m = members();
    const [a, b, c] = [{ id: "a" }, { id: "b" }, { id: "c" }];
    m.open(a, state("1.2.3.4"));
    m.open(b, state("1.2.3.4"));
    m.open(c, state("5.6.7.8"));
    expect([m.socketsOf("1.2.3.4"), m.socketsOf("5.6.7.8"), m.sockets, m.size]).toEqual([2, 1, 3, 0]);
    m.close(a);
    expect(m.socketsOf("1.2.3.4")).toBe(1);
  });
});
