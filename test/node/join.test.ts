/**
 * Protocol §2.1 (join) over real sockets: the name rules, case-insensitive
 * uniqueness, the welcome and joined frames, history replay with `since` and
 * `gap`, and reclaiming a name with its token. The room here keeps 5
 * messages and holds 3 users, so the ring and room_full are quick to reach.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { type ChatServer, ONE_MACHINE_LOAD, startChat } from "../support/server";

let server: ChatServer;
beforeAll(async () => {
  server = await startChat({ vars: { ...ONE_MACHINE_LOAD, HISTORY_LIMIT: 5, MAX_ROOM_USERS: 3, RATE_BURST: 1000 } });
});
afterAll(() => server?.stop());

const open = (room: string) => ChatClient.connect(server.wsUrl(room));

async function posts(client: ChatClient, texts: string[]): Promise<void> {
  for (const text of texts) {
    client.send({ type: "chat", text });
    await client.next("chat");
  }
}

describe("name rules", () => {
  it("trims the name and normalises it to NFC", async () => {
    const c = await open(freshRoom());
    const welcome = await c.join("  Zoe\u0301  "); // e + combining acute, padded
    expect(welcome.name).toBe("Zoé");
    expect(welcome.users).toEqual(["Zoé"]);
    await c.close();
  });

  it("accepts a name of exactly MAX_NAME_CHARS (32) code points, counting emoji as one", async () => {
    const c = await open(freshRoom());
    const name = "🙂".repeat(32);
    expect((await c.join(name)).name).toBe(name);
    await c.close();
  });

  const invalid: Array<[string, string]> = [
    ["an empty name", ""],
    ["a name of only spaces", "   \t "],
    ["a name of 33 code points", "a".repeat(33)],
    ["a control character", "bad\u0007bell"],
    ["a format character (zero-width joiner)", "zw\u200djoin"],
    ["a right-to-left override", "\u202eevil"],
    ["`system`", "system"],
    ["`SyStEm` in another case", "SyStEm"],
    ["`system` padded with spaces", "  system "],
    // From v2: look-alikes of `system`, and invisible characters anywhere.
    ["`ѕystem` with a Cyrillic dze", "\u0455ystem"],
    ["`sуstem` with a Cyrillic u", "s\u0443stem"],
    ["fullwidth `ｓｙｓｔｅｍ`", "ｓｙｓｔｅｍ"],
    ["`Ꮪystem` with a Cherokee letter", "\u13daystem"],
    ["a combining grapheme joiner (U+034F)", "Ann\u034f"],
    ["a variation selector (U+FE0F)", "Ann\ufe0f"],
    ["a supplementary variation selector (U+E0100)", "Ann\u{e0100}"],
    ["a Hangul filler (U+3164)", "Ann\u3164"],
    ["a braille blank (U+2800)", "Ann\u2800"],
    ["Hangul choseong/jungseong fillers (U+115F, U+1160)", "Ann\u115f\u1160"],
    ["a halfwidth Hangul filler (U+FFA0)", "Ann\uffa0"],
    ["a Khmer inherent vowel (U+17B4)", "Ann\u17b4"],
    ["a Mongolian variation selector (U+180B)", "Ann\u180b"],
    ["a private-use character", "Ann\ue000"],
    ["a name of only invisible characters", "\u3164\u3164"],
    ["a name of only combining marks", "\u0301\u0301"],
  ];
  for (const [what, name] of invalid) {
    it(`refuses ${what} with name_invalid and leaves the socket unjoined`, async () => {
      const c = await open(freshRoom());
      c.send({ type: "join", name });
      const [error, ...rest] = await c.sync();
      expect(error).toMatchObject({ type: "error", code: "name_invalid" });
      expect(rest).toEqual([]);
      c.send({ type: "chat", text: "hi" });
      expect(await c.next("error")).toMatchObject({ code: "not_joined" });
      await c.close();
    });
  }

  it("answers a join whose name is not a string with bad_message", async () => {
    const c = await open(freshRoom());
    c.send({ type: "join", name: 42 });
    expect(await c.sync()).toEqual([expect.objectContaining({ type: "error", code: "bad_message" })]);
    await c.close();
  });
});

describe("uniqueness", () => {
  it("refuses a name held in another case with name_taken", async () => {
    const room = freshRoom();
    const a = await open(room);
    const b = await open(room);
    await a.join("Alice");
    b.send({ type: "join", name: "aLiCe" });
    expect(await b.sync()).toEqual([expect.objectContaining({ type: "error", code: "name_taken" })]);
    await Promise.all([a.close(), b.close()]);
  });

  it("refuses the decomposed (NFD) twin of a held name", async () => {
    const room = freshRoom();
    const a = await open(room);
    const b = await open(room);
    await a.join("Chloé"); // precomposed é
    b.send({ type: "join", name: "Chloe\u0301" });
    expect(await b.sync()).toEqual([expect.objectContaining({ code: "name_taken" })]);
    await Promise.all([a.close(), b.close()]);
  });

  for (const lookAlike of ["\u0410lice", "\u0391lice", "Ａｌｉｃｅ", "𝐀lice", "AIice"]) {
    it(`refuses ${lookAlike}, a look-alike of a held Alice, with name_taken (UTS #39 skeleton)`, async () => {
      const room = freshRoom();
      const a = await open(room);
      const b = await open(room);
      await a.join("Alice");
      b.send({ type: "join", name: lookAlike });
      expect(await b.sync()).toEqual([expect.objectContaining({ code: "name_taken" })]);
      await Promise.all([a.close(), b.close()]);
    });
  }

  it("refuses a second join on a joined socket with already_joined", async () => {
    const c = await open(freshRoom());
    await c.join("Ann");
    c.send({ type: "join", name: "Other" });
    expect(await c.sync()).toEqual([expect.objectContaining({ code: "already_joined" })]);
    await c.close();
  });

  it("frees a name when its holder closes", async () => {
    const room = freshRoom();
    const a = await open(room);
    await a.join("Ann");
    await a.close();
    const b = await open(room);
    expect((await b.join("ann")).users).toEqual(["ann"]);
    await b.close();
  });

  it("refuses a join beyond MAX_ROOM_USERS with room_full", async () => {
    const room = freshRoom();
    const clients = await Promise.all([1, 2, 3, 4].map(() => open(room)));
    for (const [i, c] of clients.slice(0, 3).entries()) await c.join(`user${i}`);
    const last = clients[3];
    if (!last) throw new Error("four clients were opened");
    last.send({ type: "join", name: "late" });
    expect(await last.sync()).toEqual([expect.objectContaining({ code: "room_full" })]);
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe("welcome and joined", () => {
  it("welcomes with room, name, users in join order, seq, token and gap", async () => {
    const room = freshRoom();
    const a = await open(room);
    const b = await open(room);
    await a.join("Ann");
    await posts(a, ["one", "two"]);
    const welcome = await b.join("Ben");
    expect(welcome).toEqual({
      type: "welcome",
      room,
      name: "Ben",
      users: ["Ann", "Ben"],
      history: [
        expect.objectContaining({ type: "chat", seq: 1, text: "one", name: "Ann" }),
        expect.objectContaining({ type: "chat", seq: 2, text: "two", name: "Ann" }),
      ],
      seq: 2,
      token: expect.stringMatching(/^[A-Za-z0-9_-]{22,}$/),
      gap: false,
    });
    await Promise.all([a.close(), b.close()]);
  });

  it("tells every other joined socket `joined` with the one name and the count, not the joiner", async () => {
    const room = freshRoom();
    const [a, b, watcher] = await Promise.all([open(room), open(room), open(room)]);
    await a.join("Ann");
    await b.join("Ben");
    expect(await a.next("joined")).toEqual({ type: "joined", room, name: "Ben", count: 2, ts: expect.any(Number) });
    expect(await b.sync()).toEqual([]);
    // A socket that has not joined hears nothing of the room.
    expect(await watcher.sync()).toEqual([]);
    await Promise.all([a.close(), b.close(), watcher.close()]);
  });

  it("gives each join a different token", async () => {
    const room = freshRoom();
    const [a, b] = await Promise.all([open(room), open(room)]);
    const [wa, wb] = [await a.join("Ann"), await b.join("Ben")];
    expect(wa.token).not.toBe(wb.token);
    await Promise.all([a.close(), b.close()]);
  });
});

describe("history replay", () => {
  it("without `since` sends the whole ring, oldest first, HISTORY_LIMIT at most", async () => {
    const room = freshRoom();
    const a = await open(room);
    await a.join("Ann");
    await posts(a, ["1", "2", "3", "4", "5", "6", "7"]);
    const b = await open(room);
    const welcome = await b.join("Ben");
    expect(welcome.history.map((m) => m.seq)).toEqual([3, 4, 5, 6, 7]);
    expect(welcome.seq).toBe(7);
    expect(welcome.gap).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });

  it("with `since` sends only the messages after it", async () => {
    const room = freshRoom();
    const a = await open(room);
    await a.join("Ann");
    await posts(a, ["1", "2", "3", "4"]);
    const b = await open(room);
    const welcome = await b.join("Ben", { since: 2 });
    expect(welcome.history.map((m) => m.text)).toEqual(["3", "4"]);
    expect(welcome.gap).toBe(false);
    await Promise.all([a.close(), b.close()]);
  });

  it("sets gap when messages after `since` have left the ring", async () => {
    const room = freshRoom();
    const a = await open(room);
    await a.join("Ann");
    await posts(a, ["1", "2", "3", "4", "5", "6", "7", "8"]);
    const b = await open(room);
    const welcome = await b.join("Ben", { since: 1 }); // 2 and 3 are gone; ring is 4..8
    expect(welcome.history.map((m) => m.seq)).toEqual([4, 5, 6, 7, 8]);
    expect(welcome.gap).toBe(true);
    await Promise.all([a.close(), b.close()]);
  });

  it("with `since` equal to the latest seq sends no history and no gap", async () => {
    const room = freshRoom();
    const a = await open(room);
    await a.join("Ann");
    await posts(a, ["1", "2"]);
    const b = await open(room);
    const welcome = await b.join("Ben", { since: 2 });
    expect(welcome).toMatchObject({ history: [], seq: 2, gap: false });
    await Promise.all([a.close(), b.close()]);
  });

  it("refuses a negative or fractional `since` with bad_message", async () => {
    const c = await open(freshRoom());
    c.send({ type: "join", name: "Ann", since: -1 });
    c.send({ type: "join", name: "Ann", since: 1.5 });
    c.send({ type: "join", name: "Ann", since: "3" });
    const frames = await c.sync();
    expect(frames.map((f) => (f.type === "error" ? f.code : f.type))).toEqual([
      "bad_message",
      "bad_message",
      "bad_message",
    ]);
    await c.close();
  });
});

describe("optional fields", () => {
  it("refuses `since: null` with bad_message rather than reading it as no `since`", async () => {
    const c = await open(freshRoom());
    c.send({ type: "join", name: "Ann", since: null });
    expect(await c.sync()).toEqual([expect.objectContaining({ type: "error", code: "bad_message" })]);
    await c.close();
  });
});

describe("reclaiming a name with its token", () => {
  it("moves the name to the new socket, closes the old with `replaced` and 4001, and tells no one else", async () => {
    const room = freshRoom();
    const [old, other] = await Promise.all([open(room), open(room)]);
    const first = await old.join("Ann");
    await other.join("Ben");
    await old.next("joined");

    const fresh = await open(room);
    const welcome = await fresh.join("ann", { token: first.token });
    expect(welcome).toMatchObject({ name: "Ann", users: ["Ann", "Ben"], token: first.token });

    expect(await old.next("error")).toMatchObject({ code: "replaced" });
    expect((await old.closed).code).toBe(4001);

    // The hand-over is silent: Ben sees neither left nor joined.
    expect(await other.sync()).toEqual([]);
    // And the name really moved: Ben's messages reach the new socket.
    other.send({ type: "chat", text: "still here?" });
    expect(await fresh.next("chat")).toMatchObject({ name: "Ben", text: "still here?" });
    await Promise.all([fresh.close(), other.close()]);
  });

  it("replays what the reclaiming client missed when it joins with `since`", async () => {
    const room = freshRoom();
    const [old, other] = await Promise.all([open(room), open(room)]);
    const first = await old.join("Ann");
    await other.join("Ben");
    await posts(other, ["missed 1", "missed 2"]);
    const fresh = await open(room);
    const welcome = await fresh.join("Ann", { token: first.token, since: 0 });
    expect(welcome.history.map((m) => m.text)).toEqual(["missed 1", "missed 2"]);
    await Promise.all([fresh.close(), other.close(), old.closed]);
  });

  it("treats a token for a name nobody holds as an ordinary join, with a new token and `joined`", async () => {
    const room = freshRoom();
    const [ann, ben] = await Promise.all([open(room), open(room)]);
    const first = await ann.join("Ann");
    await ben.join("Ben");
    await ann.close();
    await ben.next("left");
    const back = await open(room);
    const welcome = await back.join("Ann", { token: first.token });
    expect(welcome.token).not.toBe(first.token);
    expect(await ben.next("joined")).toMatchObject({ name: "Ann", count: 2 });
    await Promise.all([back.close(), ben.close()]);
  });

  it("treats a wrong token as name_taken and leaves the holder untouched", async () => {
    const room = freshRoom();
    const holder = await open(room);
    const first = await holder.join("Ann");
    const thief = await open(room);
    // One character off (and never the real token, whatever its last character is).
    const wrong = `${first.token.slice(0, -1)}${first.token.endsWith("x") ? "y" : "x"}`;
    thief.send({ type: "join", name: "Ann", token: wrong });
    thief.send({ type: "join", name: "Ann", token: "" });
    expect((await thief.sync()).map((f) => f.type === "error" && f.code)).toEqual(["name_taken", "name_taken"]);
    expect(await holder.sync()).toEqual([]);
    holder.send({ type: "chat", text: "mine" });
    expect(await holder.next("chat")).toMatchObject({ name: "Ann" });
    await Promise.all([holder.close(), thief.close()]);
  });

  it("leaves the old socket's close without a `left` for the others", async () => {
    const room = freshRoom();
    const [old, other] = await Promise.all([open(room), open(room)]);
    const first = await old.join("Ann");
    await other.join("Ben");
    const fresh = await open(room);
    await fresh.join("Ann", { token: first.token });
    await old.closed;
    expect(await other.sync()).toEqual([]);
    await Promise.all([fresh.close(), other.close()]);
  });
});
