/**
 * Protocol §5.1–§5.2 over real sockets: identity tokens (every way one can
 * be wrong), joining with one, rooms a token admits, private rooms, and the
 * name rules between guests and verified users. The key set for RS256 and
 * ES256 tokens is served by this test through Miniflare's outbound fetch.
 */
import { generateKeyPair, SignJWT } from "jose";
import { beforeAll, describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite, startChat } from "../support/server";
import {
  hs256,
  hs256WithKey,
  keySet,
  type SigningKey,
  signingKey,
  TEST_AUTH_SECRET,
  unsigned,
} from "../support/tokens";

const JWKS_URL = "https://keys.example/.well-known/jwks.json";

/** The test's key server: the set it serves, and how often it was asked. */
const keyServer = {
  keys: { keys: [] } as unknown,
  fetches: 0,
};

let rsa: SigningKey;
let ec: SigningKey;
beforeAll(async () => {
  [rsa, ec] = await Promise.all([signingKey("rsa-1", "RS256"), signingKey("ec-1", "ES256")]);
  keyServer.keys = keySet(rsa, ec);
});
const suite = chatSuite({
  vars: { AUTH_SECRET: TEST_AUTH_SECRET, AUTH_JWKS_URL: JWKS_URL },
  outbound: async (request) => {
    if (request.url !== JWKS_URL) return new Response("not here", { status: 404 });
    keyServer.fetches++;
    return Response.json(keyServer.keys);
  },
});

const open = (room: string) => ChatClient.connect(suite.server.wsUrl(room));

/** The answer to one join with `auth`, on a fresh socket in a fresh room. */
async function answerTo(auth: string, room = freshRoom()) {
  const c = await open(room);
  return c.attempt({ auth });
}

describe("identity tokens (§5.1)", () => {
  it("joins an HS256 token's user under the token's name, with `user` and `role` in the welcome", async () => {
    const c = await open(freshRoom());
    const welcome = await c.signIn(await hs256({ sub: "u-ann", name: "Ann", role: "moderator" }));
    expect(welcome).toMatchObject({
      name: "Ann",
      user: "u-ann",
      role: "moderator",
      users: ["Ann"],
      members: [{ name: "Ann", user: "u-ann" }],
      settings: { slowmode: 0 },
    });
  });

  it("takes the name from `sub` when the token has none, and ignores a `name` in the frame", async () => {
    const c = await open(freshRoom());
    const welcome = await c.signIn(await hs256({ sub: "ann42" }), { name: "Mallory" });
    expect([welcome.name, welcome.user, welcome.role]).toEqual(["ann42", "ann42", "member"]);
  });

  it("accepts RS256 and ES256 tokens signed by keys of the set at AUTH_JWKS_URL", async () => {
    const a = await open(freshRoom());
    const b = await open(freshRoom());
    expect((await a.signIn(await rsa.sign({ sub: "u-rs", name: "Rsa" }))).user).toBe("u-rs");
    expect((await b.signIn(await ec.sign({ sub: "u-ec", name: "Ec" }))).user).toBe("u-ec");
  });

  const refused: Array<[string, () => Promise<string>]> = [
    ["a forged signature", async () => hs256({ sub: "u1" }, "not-the-secret-but-long-enough-0123456789")],
    ["an expired token", () => hs256({ sub: "u1", expiresIn: -120 })],
    ["a token not valid yet", () => hs256({ sub: "u1", notBefore: 120 })],
    ["a wrong audience", () => hs256({ sub: "u1", aud: "another-app" })],
    ["a token without exp", () => hs256({ sub: "u1", noExp: true })],
    ["a token without sub", () => hs256({ name: "Nobody" })],
    ["an empty sub", () => hs256({ sub: "" })],
    ["a sub of 129 characters", () => hs256({ sub: "x".repeat(129) })],
    ["an unknown role", () => hs256({ sub: "u1", role: "owner" })],
    ["rooms that are not a list of strings", () => hs256({ sub: "u1", rooms: [1] as unknown as string[] })],
    ["alg none", async () => unsigned({ sub: "u1" })],
    [
      "HS256 keyed with the RSA public key (alg confusion)",
      async () => hs256WithKey({ sub: "u1" }, rsa.publicPem, rsa.kid),
    ],
    ["an RS256 token from a key the set does not hold", async () => (await signingKey("rsa-1")).sign({ sub: "u1" })],
    ["not a JWT at all", async () => "hello"],
  ];
  for (const [what, token] of refused) {
    it(`refuses ${what} with auth_invalid, and the socket stays open and unjoined`, async () => {
      const room = freshRoom();
      const c = await open(room);
      const answer = await c.attempt({ auth: await token() });
      expect(answer).toMatchObject({ type: "error", code: "auth_invalid" });
      // Unjoined: a chat is not_joined, and the same socket may still join as a guest.
      c.send({ type: "chat", text: "hi" });
      expect(await c.next("error")).toMatchObject({ code: "not_joined" });
      expect((await c.join("Guest")).users).toEqual(["Guest"]);
    });
  }

  it("honours 60 s of clock skew on exp and nbf", async () => {
    const late = await answerTo(await hs256({ sub: "u-late", expiresIn: -30 }));
    const early = await answerTo(await hs256({ sub: "u-early", notBefore: 30 }));
    expect([late.type, early.type]).toEqual(["welcome", "welcome"]);
  });

  it("requires `iss` to equal AUTH_ISSUER when one is set", async () => {
    const strict = await startChat({ vars: { AUTH_SECRET: TEST_AUTH_SECRET, AUTH_ISSUER: "https://login.example" } });
    try {
      const room = freshRoom();
      const [a, b, c] = await Promise.all([1, 2, 3].map(() => ChatClient.connect(strict.wsUrl(room))));
      if (!a || !b || !c) throw new Error("sockets missing");
      expect(await a.attempt({ auth: await hs256({ sub: "u1", iss: "https://evil.example" }) })).toMatchObject({
        code: "auth_invalid",
      });
      expect(await b.attempt({ auth: await hs256({ sub: "u1" }) })).toMatchObject({ code: "auth_invalid" });
      expect((await c.signIn(await hs256({ sub: "u1", iss: "https://login.example" }))).user).toBe("u1");
    } finally {
      await strict.stop();
    }
  });

  it("refuses HS256 tokens on a deployment without AUTH_SECRET", async () => {
    const bare = await startChat();
    try {
      const c = await ChatClient.connect(bare.wsUrl(freshRoom()));
      expect(await c.attempt({ auth: await hs256({ sub: "u1" }) })).toMatchObject({ code: "auth_invalid" });
    } finally {
      await bare.stop();
    }
  });

  it("waits for a token's check before handling the same socket's next frames", async () => {
    const room = freshRoom();
    const c = await open(room);
    c.send({ type: "join", auth: await ec.sign({ sub: "u-eager", name: "Eager" }) });
    c.send({ type: "chat", text: "sent before the welcome arrived" });
    const welcome = await c.next("welcome");
    const chat = await c.next("chat");
    expect([welcome.name, chat.text, chat.user]).toEqual(["Eager", "sent before the welcome arrived", "u-eager"]);
  });
});

describe("the key set (§5.1)", () => {
  it("fetches the set again for an unknown kid once the cooldown has passed (rotation)", async () => {
    const next = await signingKey("rsa-2", "RS256");
    // A kid the set does not hold yet: refused, and the set was fetched
    // within the last 5 s (now, or by an earlier test).
    expect((await answerTo(await next.sign({ sub: "u-new" }))).type).toBe("error");
    keyServer.keys = keySet(rsa, ec, next);
    const fetchesBefore = keyServer.fetches;
    // Within the cooldown an unknown kid does not make the room ask again:
    // a flood of made-up kids costs the key server nothing...
    const soon = await answerTo(await next.sign({ sub: "u-new" }));
    const askedSoon = keyServer.fetches - fetchesBefore;
    // ...once the cooldown (5 s) has passed, it asks once, and the new key works.
    await new Promise((r) => setTimeout(r, 5200));
    const later = await answerTo(await next.sign({ sub: "u-new" }));
    expect([soon.type, askedSoon, later.type]).toEqual(["error", 0, "welcome"]);
    expect(keyServer.fetches - fetchesBefore).toBe(1);
  });

  it("fetches the key set once for a storm of RS256 joins into a room on a cold isolate", async () => {
    let fetches = 0;
    const cold = await startChat({
      vars: { AUTH_JWKS_URL: JWKS_URL },
      outbound: async () => {
        fetches++;
        await new Promise((r) => setTimeout(r, 200)); // a key server that takes its time
        return Response.json(keySet(rsa));
      },
    });
    try {
      const room = freshRoom();
      const clients = await Promise.all(Array.from({ length: 20 }, () => ChatClient.connect(cold.wsUrl(room))));
      const answers = await Promise.all(
        clients.map(async (c, i) => (await c.attempt({ auth: await rsa.sign({ sub: `u${i}`, name: `n${i}` }) })).type),
      );
      expect(answers.every((t) => t === "welcome")).toBe(true);
      expect(fetches).toBe(1);
    } finally {
      await cold.stop();
    }
  });

  it("answers auth_invalid, not a stalled join, when the key server hangs; HS256 keeps working", async () => {
    // A server of its own: its isolate has never fetched the set, so the
    // first RS256 join fetches at once, with no cooldown to wait out.
    let hungUntil = Promise.resolve(0);
    const hanging = await startChat({
      vars: { AUTH_SECRET: TEST_AUTH_SECRET, AUTH_JWKS_URL: JWKS_URL },
      outbound: async () => {
        hungUntil = new Promise<number>((r) => setTimeout(() => r(Date.now()), 4000));
        await hungUntil;
        return Response.json(keyServer.keys);
      },
    });
    try {
      const join = async (auth: string) => (await ChatClient.connect(hanging.wsUrl(freshRoom()))).attempt({ auth });
      const hung = await join(await rsa.sign({ sub: "u-x" }));
      const answeredAt = Date.now();
      const meanwhile = await join(await hs256({ sub: "u-hs" }));
      expect(hung).toMatchObject({ type: "error", code: "auth_invalid" });
      // The room gave up (after 3 s) before the key server answered (after 4 s).
      expect(answeredAt).toBeLessThan(await hungUntil);
      expect(meanwhile.type).toBe("welcome");
    } finally {
      await hanging.stop();
    }
  });
});

describe("a flood of made-up key ids (§5.1)", () => {
  it("fetches the key set at most once per 5 s while 20 sockets join with random kids every 50 ms, and good joins get in", async () => {
    let fetches = 0;
    // A rate-limited key server: it serves the first fetch and refuses the rest.
    const flooded = await startChat({
      vars: { AUTH_JWKS_URL: JWKS_URL },
      outbound: async () => {
        fetches++;
        return fetches === 1 ? Response.json(keySet(rsa)) : new Response("slow down", { status: 429 });
      },
    });
    try {
      const room = freshRoom();
      const forger = await generateKeyPair("ES256");
      const forged = () =>
        new SignJWT({ sub: "mallory", aud: "edge-chat" })
          .setProtectedHeader({ alg: "ES256", kid: crypto.randomUUID() })
          .setExpirationTime("1h")
          .sign(forger.privateKey);
      const attackers = await Promise.all(
        Array.from({ length: 20 }, () => ChatClient.connect(flooded.wsUrl(room), {}, "127.0.0.2")),
      );
      const started = Date.now();
      const refusals: string[] = [];
      const welcomed: string[] = [];
      for (let round = 0; round < 120; round++) {
        const answers = await Promise.all(attackers.map(async (a) => a.attempt({ auth: await forged() })));
        for (const answer of answers) refusals.push(answer.type === "error" ? answer.code : answer.type);
        if (round % 20 === 0) {
          const good = await ChatClient.connect(flooded.wsUrl(room), {}, "127.0.0.3");
          welcomed.push(
            (await good.attempt({ auth: await rsa.sign({ sub: `good-${round}`, name: `Good ${round}` }) })).type,
          );
          await good.close();
        }
        await new Promise((r) => setTimeout(r, 50));
      }
      const elapsed = Date.now() - started;
      // One fetch per started 5 s at the most, whatever the flood sent.
      expect(fetches).toBeLessThanOrEqual(1 + Math.ceil(elapsed / 5000));
      expect(welcomed.every((t) => t === "welcome")).toBe(true);
      // A refused token costs a join: the flood soon runs out of them and gets no check at all.
      expect(refusals).not.toContain("welcome");
      expect(refusals.filter((c) => c === "rate_limited").length).toBeGreaterThan(refusals.length / 2);
    } finally {
      await flooded.stop();
    }
  });
});

describe("the claims (§5.1)", () => {
  it("refuses a `sub` with a control character or a direction control: NUL, newline, U+202E", async () => {
    for (const sub of ["a\u0000b", "line\nbreak", "evil\u202e1", "\u2066x\u2069"]) {
      expect(await answerTo(await hs256({ sub, name: "Sub" })), JSON.stringify(sub)).toMatchObject({
        type: "error",
        code: "auth_invalid",
      });
    }
  });
});

describe("joining with an identity (§5.2)", () => {
  it("puts `user` on every frame about a verified user, and never on frames about guests", async () => {
    const room = freshRoom();
    const [guest, ann] = await Promise.all([open(room), open(room)]);
    await guest.join("Gus");
    await ann.signIn(await hs256({ sub: "u-ann", name: "Ann" }));
    expect(await guest.next("joined")).toMatchObject({ name: "Ann", user: "u-ann", count: 2 });
    ann.send({ type: "chat", text: "signed" });
    ann.send({ type: "typing" });
    ann.send({ type: "dm", to: "Gus", text: "psst" });
    expect(await guest.next("typing")).toEqual({ type: "typing", room, name: "Ann", user: "u-ann" });
    expect(await guest.next("dm")).toMatchObject({ from: "Ann", user: "u-ann", to: "Gus" });
    // Frames from two sockets have no order between them: the guest speaks after Ann's chat arrived.
    const chats = [await guest.next("chat")];
    guest.send({ type: "chat", text: "guest" });
    chats.push(await guest.next("chat"));
    expect(chats.map((c) => [c.name, c.user])).toEqual([
      ["Ann", "u-ann"],
      ["Gus", undefined],
    ]);
    const late = await open(room);
    const welcome = await late.join("Late");
    expect(welcome.members).toEqual([{ name: "Gus" }, { name: "Ann", user: "u-ann" }, { name: "Late" }]);
    expect(welcome.history.map((h) => h.user)).toEqual(["u-ann", undefined]);
    await ann.close();
    expect(await guest.next("left")).toMatchObject({ name: "Ann", user: "u-ann" });
  });

  it("refuses a token whose `rooms` do not cover the room with forbidden", async () => {
    const answer = await answerTo(await hs256({ sub: "u1", rooms: ["team-*", "lobby"] }), "elsewhere");
    expect(answer).toMatchObject({ type: "error", code: "forbidden" });
    const covered = await answerTo(await hs256({ sub: "u1", rooms: ["team-*"] }), freshRoom("team"));
    expect(covered.type).toBe("welcome");
  });

  it("keeps a name a verified user holds from guests and from other users, look-alikes included", async () => {
    const room = freshRoom();
    const [ann, guest, lookalike, other] = await Promise.all([open(room), open(room), open(room), open(room)]);
    const welcome = await ann.signIn(await hs256({ sub: "u-ann", name: "Ann" }));
    expect(await guest.attempt({ name: "ann", token: welcome.token })).toMatchObject({ code: "name_taken" });
    expect(await lookalike.attempt({ name: "Аnn" })).toMatchObject({ code: "name_taken" }); // Cyrillic А
    expect(await other.attempt({ auth: await hs256({ sub: "u-other", name: "Ann" }) })).toMatchObject({
      code: "name_taken",
    });
  });

  it("replaces a guest squatting a verified user's name: 4001 for the guest, `left` then `joined` for the rest", async () => {
    const room = freshRoom();
    const [squatter, ben, ann] = await Promise.all([open(room), open(room), open(room)]);
    await squatter.join("Ann");
    await ben.join("Ben");
    await ann.signIn(await hs256({ sub: "u-ann", name: "Ann" }));
    expect(await squatter.next("error")).toMatchObject({ code: "replaced" });
    expect((await squatter.closed).code).toBe(4001);
    const seen = (await ben.sync()).filter((f) => f.type === "left" || f.type === "joined");
    expect(seen).toEqual([
      expect.objectContaining({ type: "left", name: "Ann", count: 1 }),
      expect.objectContaining({ type: "joined", name: "Ann", user: "u-ann", count: 2 }),
    ]);
    expect(seen[0]).not.toHaveProperty("user");
  });
});

describe("access (§5.2)", () => {
  it("asks guests to sign in when ACCESS is verified, and lets a token in", async () => {
    const closed = await startChat({ vars: { AUTH_SECRET: TEST_AUTH_SECRET, ACCESS: "verified" } });
    try {
      const room = freshRoom();
      const guest = await ChatClient.connect(closed.wsUrl(room));
      expect(await guest.attempt({ name: "Gus" })).toMatchObject({ code: "auth_required" });
      expect((await guest.signIn(await hs256({ sub: "u1", name: "Una" }))).name).toBe("Una");
    } finally {
      await closed.stop();
    }
  });

  it("admits to a private room only a token whose rooms cover it", async () => {
    const room = freshRoom("private-team");
    const [guest, plain, other, member] = await Promise.all([open(room), open(room), open(room), open(room)]);
    expect(await guest.attempt({ name: "Gus" })).toMatchObject({ code: "auth_required" });
    expect(await plain.attempt({ auth: await hs256({ sub: "u1" }) })).toMatchObject({ code: "forbidden" });
    expect(await other.attempt({ auth: await hs256({ sub: "u2", rooms: ["private-other*"] }) })).toMatchObject({
      code: "forbidden",
    });
    expect((await member.signIn(await hs256({ sub: "u3", rooms: ["private-team*"] }))).room).toBe(room);
  });
});
