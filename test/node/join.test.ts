/**
 * Protocol §2.1 (join) over real sockets: the name rules, uniqueness (case,
 * normalisation, look-alikes), and the welcome and joined frames. Coming
 * back (`since`, reclaiming a name) is rejoin.test.ts. The room here keeps 5
 * messages and holds 3 users, so the ring and room_full are quick to reach.
 */
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite, ONE_MACHINE_LOAD } from "../support/server";

const suite = chatSuite({ vars: { ...ONE_MACHINE_LOAD, HISTORY_LIMIT: 5, MAX_ROOM_USERS: 3, RATE_BURST: 1000 } });

const open = (room: string) => ChatClient.connect(suite.server.wsUrl(room));

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
  it("welcomes a guest with room, name, users and members in join order, role, settings, seq, token and gap", async () => {
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
      members: [{ name: "Ann" }, { name: "Ben" }],
      role: "member",
      settings: { slowmode: 0 },
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
