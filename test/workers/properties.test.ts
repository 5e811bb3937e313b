/**
 * Property-based tests (fast-check) of the room's frame handling, inside
 * workerd. A ChatRoom is built over a real room's state and its sockets'
 * `send` is recorded, so each generated frame's full effect is known the
 * moment the (synchronous) handler returns: thousands of frames in seconds.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import fc from "fast-check";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { ChatRoom } from "../../src/room/chat-room";
import { DEFAULT_LIMITS } from "../../src/shared/limits";
import { connectMany, type Recorded, record } from "./fixtures";

const MAX_FRAME_BYTES = DEFAULT_LIMITS.maxFrameBytes;
const AUTH_SECRET = "properties-auth-secret-0123456789abcdef";
const VALID_TYPES = new Set(["join", "chat", "dm", "typing", "leave", "ping"]);

/** Runs `body` with a room of two joined members, Ann (the sender of bad frames) and Ben (a bystander). */
async function withRoom(
  room: string,
  body: (room: ChatRoom, ann: Recorded, ben: Recorded, spare: Recorded) => void | Promise<void>,
): Promise<void> {
  await connectMany(room, 3);
  await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), async (_live, state) => {
    // These properties are about frames and names, and a run joins hundreds
    // of times from one socket: the join budget (tested with its default in
    // test/node/limits.test.ts) is lifted here.
    const chat = new ChatRoom(state, { ...env, JOINS_PER_MINUTE: 1_000_000, AUTH_SECRET });
    const [a, b, c] = state.getWebSockets();
    if (!a || !b || !c) throw new Error("sockets lost");
    const [ann, ben, spare] = [record(a), record(b), record(c)];
    await chat.webSocketMessage(ann.ws, JSON.stringify({ type: "join", name: "Ann" }));
    await chat.webSocketMessage(ben.ws, JSON.stringify({ type: "join", name: "Ben" }));
    await chat.webSocketMessage(ann.ws, JSON.stringify({ type: "chat", text: "a message before the storm", id: "m1" }));
    for (const r of [ann, ben, spare]) r.sent.length = 0;
    await body(chat, ann, ben, spare);
  });
}

/** Everything a rejected frame must leave untouched. */
function stateOf(room: ChatRoom, sockets: Recorded[]): string {
  return JSON.stringify({
    snapshot: room.snapshot(),
    messages: room.messages(0, 1000),
    attachments: sockets.map((s) => s.ws.deserializeAttachment()),
    open: sockets.map((s) => s.ws.readyState),
  });
}

// ---------------------------------------------------------------------------
// Generators of frames that are wrong in one way each
// ---------------------------------------------------------------------------

const unicodeEdge = fc.constantFrom(
  "\ud800",
  "\udfff",
  "a\ud83d",
  "\u200b",
  "\u200f",
  "\u202e",
  "\ufeff",
  "\u0000",
  "\u001b[31m",
  "e\u0301",
  "\u00e9",
  "",
  " ",
  "\n\t",
);
const anyString = fc.oneof(fc.string(), fc.string({ unit: "grapheme" }), fc.string({ unit: "binary" }), unicodeEdge);
const notAString = fc.oneof(
  fc.integer(),
  fc.double(),
  fc.boolean(),
  fc.constant(null),
  fc.array(fc.integer()),
  fc.object(),
);

/** A JSON value that is not an object with a known `type`. */
const randomJson = fc
  .jsonValue()
  .filter((v) => !(typeof v === "object" && v !== null && !Array.isArray(v) && VALID_TYPES.has(String(v.type))));

/** A known type with a field of the wrong type, or a required field missing. */
const wrongFieldTypes = fc.oneof(
  fc.record({ type: fc.constant("join"), name: notAString }),
  fc.record({
    type: fc.constant("join"),
    name: anyString,
    since: fc.oneof(fc.constant(-1), fc.double({ min: 0.1, max: 9, noInteger: true }), fc.string(), fc.constant(null)),
  }),
  fc.record({ type: fc.constant("join"), name: anyString, token: notAString }),
  fc.record({ type: fc.constant("chat"), text: notAString }),
  fc.record({ type: fc.constant("chat") }),
  fc.record({
    type: fc.constant("chat"),
    text: fc.string({ minLength: 1 }),
    id: fc.oneof(fc.constant(""), fc.string({ minLength: 65, maxLength: 80 }), notAString),
  }),
  fc.record({ type: fc.constant("dm"), to: notAString, text: fc.string() }),
  fc.record({ type: fc.constant("dm"), to: fc.string(), text: notAString }),
  fc.record({ type: notAString }),
  fc.record({ type: fc.string().filter((t) => !VALID_TYPES.has(t)) }),
);

/** Valid shapes whose content the room must refuse (Ann is joined). */
const refusedContent = fc.oneof(
  fc.record({ type: fc.constant("join"), name: anyString }), // already_joined, whatever the name
  fc.record({ type: fc.constant("chat"), text: fc.constantFrom("", " ", "\n\t", "\u3000") }), // bad_message
  fc.record({ type: fc.constant("chat"), text: fc.constant("x".repeat(DEFAULT_LIMITS.maxMessageChars + 1)) }), // too_long
  fc.record({ type: fc.constant("dm"), to: fc.constantFrom("nobody", "Ann2", "Bem"), text: fc.constant("hi") }), // no_such_user
);

const tooLarge = fc
  .integer({ min: 1, max: 64 })
  .map((extra) => JSON.stringify({ type: "chat", text: "x".repeat(MAX_FRAME_BYTES + extra) }));

const frame: fc.Arbitrary<string | ArrayBuffer> = fc.oneof(
  randomJson.map((v) => JSON.stringify(v)),
  wrongFieldTypes.map((v) => JSON.stringify(v)),
  refusedContent.map((v) => JSON.stringify(v)),
  fc.string().filter((s) => {
    try {
      JSON.parse(s);
      return false;
    } catch {
      return true;
    }
  }), // not JSON
  fc.uint8Array({ maxLength: 64 }).map((a) => a.slice().buffer), // binary
  tooLarge,
);

describe("a rejected frame", () => {
  it("gets exactly one error frame, closes nothing, broadcasts nothing and changes no state", async () => {
    await withRoom("prop-bad-frames", async (room, ann, ben, spare) => {
      const everyone = [ann, ben, spare];
      await fc.assert(
        fc.asyncProperty(frame, async (f) => {
          const before = stateOf(room, everyone);
          ann.sent.length = 0;
          ben.sent.length = 0;
          await room.webSocketMessage(ann.ws, f);
          expect(ann.sent).toHaveLength(1);
          const reply = JSON.parse(ann.sent[0] ?? "{}");
          expect(reply.type).toBe("error");
          expect(reply.code).not.toBe("internal_error");
          expect(ben.sent).toEqual([]);
          expect(stateOf(room, everyone)).toBe(before);
        }),
        { numRuns: 3000 },
      );
    });
  });

  it("is answered the same way on a socket that has not joined", async () => {
    await withRoom("prop-bad-frames-unjoined", async (room, ann, ben, spare) => {
      const everyone = [ann, ben, spare];
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            randomJson.map((v) => JSON.stringify(v)),
            wrongFieldTypes.map((v) => JSON.stringify(v)),
            tooLarge,
          ),
          async (f) => {
            const before = stateOf(room, everyone);
            spare.sent.length = 0;
            await room.webSocketMessage(spare.ws, f);
            expect(spare.sent.map((s) => JSON.parse(s).type)).toEqual(["error"]);
            expect(stateOf(room, everyone)).toBe(before);
          },
        ),
        { numRuns: 1000 },
      );
    });
  });

  it("is refused by size first: just over MAX_FRAME_BYTES is too_large, just under is parsed", async () => {
    await withRoom("prop-frame-size", async (room, ann) => {
      const pad = (bytes: number) => {
        const head = '{"type":"nope","pad":"';
        return `${head}${"x".repeat(bytes - head.length - 2)}"}`;
      };
      for (const [bytes, code] of [
        [MAX_FRAME_BYTES + 1, "too_large"],
        [MAX_FRAME_BYTES, "bad_message"],
        [MAX_FRAME_BYTES - 1, "bad_message"],
      ] as const) {
        ann.sent.length = 0;
        await room.webSocketMessage(ann.ws, pad(bytes));
        expect(JSON.parse(ann.sent[0] ?? "{}")).toMatchObject({ type: "error", code });
      }
    });
  });
});

describe("names", () => {
  /** A random mix of case changes and NFC/NFD on each character. */
  const twinOf = (name: string) =>
    fc.array(fc.tuple(fc.boolean(), fc.boolean()), { minLength: name.length, maxLength: name.length }).map((flags) =>
      [...name]
        .map((ch, i) => {
          const [upper, nfd] = flags[i] ?? [false, false];
          const cased = upper ? ch.toUpperCase() : ch.toLowerCase();
          return nfd ? cased.normalize("NFD") : cased;
        })
        .join(""),
    );

  it("that differ only by case or normalisation cannot both be held", async () => {
    await withRoom("prop-twins", async (room, ann, _ben, spare) => {
      const bases = ["Zoë", "Ångström", "José", "Dvořák", "Chloé", "Ilse", "Σοφία"];
      const pair = fc.constantFrom(...bases).chain((base) => fc.tuple(fc.constant(base), twinOf(base)));
      await fc.assert(
        fc.asyncProperty(pair, async ([base, twin]) => {
          // Spare holds the base name; Ann (after leaving) tries the twin.
          await room.webSocketMessage(spare.ws, JSON.stringify({ type: "join", name: base }));
          await room.webSocketMessage(ann.ws, JSON.stringify({ type: "leave" }));
          ann.sent.length = 0;
          await room.webSocketMessage(ann.ws, JSON.stringify({ type: "join", name: twin }));
          expect(JSON.parse(ann.sent[0] ?? "{}")).toMatchObject({ type: "error", code: "name_taken" });
          expect(room.snapshot().users).toEqual(["Ben", base.normalize("NFC")]);
          // Back to the starting state for the next run.
          await room.webSocketMessage(spare.ws, JSON.stringify({ type: "leave" }));
          await room.webSocketMessage(ann.ws, JSON.stringify({ type: "join", name: "Ann" }));
        }),
        { numRuns: 300 },
      );
    });
  });

  it("with an invisible or unprintable character (Cc, Cf, default-ignorable, private-use, lone surrogate) are refused with name_invalid", async () => {
    await withRoom("prop-invisible", async (room, ann, ben, spare) => {
      const everyone = [ann, ben, spare];
      const invisible = fc.constantFrom(
        "\u0000",
        "\u0007",
        "\u001b",
        "\u007f",
        "\u200b",
        "\u200d",
        "\u200e",
        "\u200f",
        "\u202e",
        "\u2066",
        "\ufeff",
        "\ud800",
        "\udc00",
        // From v2: default-ignorable, private-use and blank code points.
        "\u034f",
        "\ufe0f",
        "\u{e0100}",
        "\u3164",
        "\u2800",
        "\u115f",
        "\u1160",
        "\uffa0",
        "\u17b4",
        "\u180b",
        "\ue000",
        "\u{f0000}",
      );
      const name = fc
        .tuple(fc.string({ minLength: 1, maxLength: 10 }), invisible, fc.string({ maxLength: 10 }))
        .map(([a, bad, b]) => `x${a}${bad}${b}y`); // inside the name: trim() would drop a BOM at an edge
      await fc.assert(
        fc.asyncProperty(name, async (n) => {
          const before = stateOf(room, everyone);
          spare.sent.length = 0;
          await room.webSocketMessage(spare.ws, JSON.stringify({ type: "join", name: n }));
          expect(spare.sent.map((f) => JSON.parse(f).code)).toEqual(["name_invalid"]);
          expect(stateOf(room, everyone)).toBe(before);
        }),
        { numRuns: 1000 },
      );
    });
  });

  it("`system` cannot be taken in any spelling that normalises to it", async () => {
    await withRoom("prop-system", async (room, _ann, _ben, spare) => {
      const letters = [
        ["s", "S", "ſ"],
        ["y", "Y"],
        ["s", "S", "ſ"],
        ["t", "T"],
        ["e", "E"],
        ["m", "M"],
      ];
      const spelling = fc
        .tuple(
          ...letters.map((options) => fc.constantFrom(...options)),
          fc.constantFrom("", " ", "\t", "  "),
          fc.constantFrom("", " ", "\n"),
        )
        .map((parts) => {
          const chars = parts.slice(0, 6) as string[];
          return `${parts[6]}${chars.join("")}${parts[7]}`;
        });
      await fc.assert(
        fc.asyncProperty(spelling, async (name) => {
          spare.sent.length = 0;
          await room.webSocketMessage(spare.ws, JSON.stringify({ type: "join", name }));
          expect(JSON.parse(spare.sent[0] ?? "{}")).toMatchObject({ type: "error", code: "name_invalid" });
        }),
        { numRuns: 500 },
      );
    });
  });
});

// ---------------------------------------------------------------------------
// Identity tokens (§5.1): whatever is wrong with one, the join earns one
// auth_invalid and nothing else.
// ---------------------------------------------------------------------------

/** Every way to spoil a valid token `h.p.s`, one at a time. */
function malformed(valid: string): fc.Arbitrary<string> {
  const [head = "", body = "", sig = ""] = valid.split(".");
  const b64 = (text: string) => btoa(text);
  return fc
    .oneof(
      // Truncated anywhere.
      fc.integer({ min: 0, max: valid.length - 1 }).map((n) => valid.slice(0, n)),
      // Re-encoded: standard base64 with padding instead of base64url, or the
      // payload decoded and encoded again with a claim changed (the signature
      // no longer fits).
      fc.constant([head, b64(atob(body.replace(/-/g, "+").replace(/_/g, "/"))), sig].join(".")),
      fc
        .record({ sub: fc.string({ minLength: 1, maxLength: 20 }), role: fc.constantFrom("admin", "moderator") })
        .map((claims) => {
          const payload = JSON.parse(atob(body.replace(/-/g, "+").replace(/_/g, "/")));
          const forged = btoa(JSON.stringify({ ...payload, ...claims }))
            .replace(/\+/g, "-")
            .replace(/\//g, "_")
            .replace(/=+$/, "");
          return [head, forged, sig].join(".");
        }),
      // A signature character changed (not the last, whose low bits may not count).
      fc
        .tuple(fc.integer({ min: 0, max: sig.length - 2 }), fc.constantFrom(..."ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
        .filter(([i, c]) => sig[i] !== c)
        .map(([i, c]) => [head, body, `${sig.slice(0, i)}${c}${sig.slice(i + 1)}`].join(".")),
      // Wrong segments: too few, too many, empty, swapped.
      fc.constantFrom(
        `${head}.${body}`,
        `${head}.${body}.${sig}.${sig}`,
        `${head}..${sig}`,
        `.${body}.${sig}`,
        `${body}.${head}.${sig}`,
        "..",
        "",
      ),
      // Huge, yet within MAX_FRAME_BYTES.
      fc.integer({ min: 1000, max: 15_000 }).map((n) => `${head}.${"A".repeat(n)}.${sig}`),
      // Not a token at all.
      anyString,
    )
    .filter((token) => token !== valid);
}

describe("an identity token", () => {
  it("that is malformed (truncated, re-encoded, wrong segments, huge) gets exactly one auth_invalid and changes nothing", async () => {
    const valid = await new SignJWT({ sub: "u-prop", name: "Prop", aud: "edge-chat" })
      .setProtectedHeader({ alg: "HS256" })
      .setExpirationTime("1h")
      .sign(new TextEncoder().encode(AUTH_SECRET));
    await withRoom("prop-tokens", async (room, ann, ben, spare) => {
      const everyone = [ann, ben, spare];
      await fc.assert(
        fc.asyncProperty(malformed(valid), async (token) => {
          const before = stateOf(room, everyone);
          for (const r of everyone) r.sent.length = 0;
          await room.webSocketMessage(spare.ws, JSON.stringify({ type: "join", auth: token }));
          expect(spare.sent.map((s) => JSON.parse(s).code)).toEqual(["auth_invalid"]);
          expect([ann.sent, ben.sent]).toEqual([[], []]);
          expect(stateOf(room, everyone)).toBe(before);
        }),
        { numRuns: 300 },
      );
      // The control: the unspoiled token joins, so the refusals above were the spoiling's doing.
      await room.webSocketMessage(spare.ws, JSON.stringify({ type: "join", auth: valid }));
      expect(spare.sent.map((s) => JSON.parse(s).type)).toContain("welcome");
    });
  });
});
