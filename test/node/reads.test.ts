/**
 * Protocol §10 over real sockets and HTTP on the bundle: read cursors and
 * their sync, read receipts, mentions on frames and in counts, a user's
 * rooms (`GET /api/me/rooms`) and the `/me` live socket.
 */
import { describe, expect, it } from "vitest";
import type { ServerFrameOf, UserRoom } from "../../src/shared/server-frames";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const BATCH_MS = 200;
const suite = chatSuite({ vars: { AUTH_SECRET: TEST_AUTH_SECRET, PRESENCE_BATCH_MS: BATCH_MS } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let users = 0;
/** A fresh verified user: their `sub`, name and token. */
async function person(name: string, rooms?: string[]) {
  const sub = `u${++users}-${Math.random().toString(36).slice(2, 8)}`;
  return { sub, name, token: await hs256({ sub, name, ...(rooms ? { rooms } : {}) }) };
}

async function signIn(room: string, who: { token: string }, protocol: 3 | undefined = 3) {
  const c = await ChatClient.connect(suite.server.wsUrl(room));
  const welcome = await c.signIn(who.token, protocol === undefined ? {} : { protocol });
  return { c, welcome };
}

/** Bob signed in on two sockets, and the guest Ann, in a fresh room. */
async function twoTabsAndAGuest() {
  const room = freshRoom("reads");
  const bob = await person("Bob");
  const one = await signIn(room, bob);
  const two = await signIn(room, bob);
  const ann = await guest(room, "Ann");
  return { room, bob, one, two, ann };
}

/** Signs in and leaves cleanly: the room now remembers the user, who is away. */
async function visit(room: string, who: { token: string }) {
  const visited = await signIn(room, who);
  visited.c.close(1000);
  await visited.c.closed;
  return visited.welcome;
}

async function guest(room: string, name: string) {
  const c = await ChatClient.connect(suite.server.wsUrl(room));
  await c.join(name, { protocol: 3 });
  return c;
}

async function say(c: ChatClient, text: string): Promise<ServerFrameOf<"chat">> {
  c.send({ type: "chat", text, id: `m${Math.random()}` });
  return c.next("chat");
}

async function myRooms(
  token: string,
): Promise<{ status: number; body: { user?: string; rooms?: UserRoom[]; error?: string } }> {
  const res = await suite.server.http("/api/me/rooms", { headers: { Authorization: `Bearer ${token}` } });
  return { status: res.status, body: (await res.json()) as { user?: string; rooms?: UserRoom[] } };
}

function meUrl(): string {
  return `${suite.server.origin.replace(/^http/, "ws")}/me`;
}

describe("read cursors (§10.1)", () => {
  it("starts a first join's cursor at the room's latest seq, with nothing unread", async () => {
    const room = freshRoom("reads");
    const ann = await guest(room, "Ann");
    await say(ann, "before you came");
    const { welcome } = await signIn(room, await person("Bob"));
    expect(welcome).toMatchObject({ lastRead: welcome.seq, unread: 0, mentions: 0 });
  });

  it("answers a guest's read with auth_required", async () => {
    const room = freshRoom("reads");
    const ann = await guest(room, "Ann");
    ann.send({ type: "read", seq: 1 });
    expect(await ann.next("error")).toMatchObject({ code: "auth_required" });
  });

  it("syncs a moved cursor to the user's other sockets and not to the sender", async () => {
    const { room, one, two, ann } = await twoTabsAndAGuest();
    const sent = await say(ann, "hello");
    await one.c.sync();
    await two.c.sync();
    one.c.send({ type: "read", seq: sent.seq });
    expect(await two.c.next("read")).toEqual({ type: "read", room, seq: sent.seq });
    expect((await one.c.sync()).filter((f) => f.type === "read")).toEqual([]);
  });

  it("moves only forward and caps a seq past the room's latest", async () => {
    const { room, bob, one, two, ann } = await twoTabsAndAGuest();
    const sent = await say(ann, "hello");
    one.c.send({ type: "read", seq: 1_000_000 });
    expect(await two.c.next("read")).toMatchObject({ seq: sent.seq });
    one.c.send({ type: "read", seq: 1 });
    await one.c.sync();
    expect((await two.c.sync()).filter((f) => f.type === "read")).toEqual([]);
    const again = await signIn(room, bob);
    expect(again.welcome).toMatchObject({ lastRead: sent.seq, unread: 0 });
  });

  it("keeps the cursor durably: a later join's welcome counts what came after it", async () => {
    const room = freshRoom("reads");
    const bob = await person("Bob");
    const first = await visit(room, bob);
    const ann = await guest(room, "Ann");
    await say(ann, "one");
    await say(ann, "two");
    const { welcome } = await signIn(room, bob);
    expect(welcome).toMatchObject({ lastRead: first.seq, unread: 2, mentions: 0 });
  });

  it("moves the cursor silently with the user's own chat", async () => {
    const { room, bob, one, two, ann } = await twoTabsAndAGuest();
    await say(ann, "hello");
    await one.c.sync();
    const mine = await say(one.c, "my answer");
    expect((await two.c.sync()).filter((f) => f.type === "read")).toEqual([]);
    const again = await signIn(room, bob);
    expect(again.welcome).toMatchObject({ lastRead: mine.seq, unread: 0 });
  });

  it("shows other members' cursors as receipts in presence and in the welcome", async () => {
    const room = freshRoom("reads");
    const bob = await person("Bob");
    const cat = await person("Cat");
    const b = await signIn(room, bob);
    const c = await signIn(room, cat);
    const sent = await say(c.c, "hi Bob");
    await b.c.sync();
    b.c.send({ type: "read", seq: sent.seq });
    await sleep(BATCH_MS * 2);
    const frames = await c.c.sync();
    const receipts = frames.filter((f) => f.type === "presence").flatMap((f) => f.reads ?? []);
    expect(receipts).toEqual([{ name: "Bob", user: bob.sub, seq: sent.seq }]);
    const mine = (await b.c.sync()).filter((f) => f.type === "presence").flatMap((f) => f.reads ?? []);
    expect(mine.filter((r) => r.user === bob.sub)).toEqual([]);
    const dan = await signIn(room, await person("Dan"));
    expect(dan.welcome.reads).toEqual(
      expect.arrayContaining([
        { name: "Bob", user: bob.sub, seq: sent.seq },
        { name: "Cat", user: cat.sub, seq: sent.seq },
      ]),
    );
  });
});

describe("mentions and unread (§10.2)", () => {
  it("puts mentions on the chat frame: case-insensitive, word boundary, longest name, each once", async () => {
    const room = freshRoom("mention");
    const ann = await guest(room, "Ann");
    await guest(room, "Ann Lee");
    const bob = await person("Bob");
    await signIn(room, bob);
    const chat = await say(ann, "@ann lee and @BOB, @Bobby no, @Bob again, email@ann!");
    expect(chat.mentions).toEqual([{ name: "Ann Lee" }, { name: "Bob", user: bob.sub }, { name: "Ann" }]);
    const none = await say(ann, "@nobody here");
    expect(none).not.toHaveProperty("mentions");
  });

  it("mentions a remembered verified user who is away, under their latest name", async () => {
    const room = freshRoom("mention");
    const zed = await person("Zed");
    await visit(room, zed);
    const ann = await guest(room, "Ann");
    const chat = await say(ann, "where is @zed?");
    expect(chat.mentions).toEqual([{ name: "Zed", user: zed.sub }]);
  });

  it("recomputes mentions on an edit, and the update always carries them", async () => {
    const room = freshRoom("mention");
    const ann = await guest(room, "Ann");
    const bob = await person("Bob");
    await signIn(room, bob);
    const chat = await say(ann, "hi @Bob");
    ann.send({ type: "edit", seq: chat.seq, text: "hi all" });
    expect((await ann.next("update")).mentions).toEqual([]);
    ann.send({ type: "edit", seq: chat.seq, text: "hi @bob" });
    expect((await ann.next("update")).mentions).toEqual([{ name: "Bob", user: bob.sub }]);
  });

  it("counts unread and mentions in the welcome, and a delete takes a message out of both", async () => {
    const room = freshRoom("mention");
    const bob = await person("Bob");
    await visit(room, bob);
    const ann = await guest(room, "Ann");
    await say(ann, "plain");
    const ping = await say(ann, "@Bob look");
    await say(ann, "@bob again");
    expect(await visit(room, bob)).toMatchObject({ unread: 3, mentions: 2 });
    ann.send({ type: "delete", seq: ping.seq });
    await ann.next("update");
    expect(await visit(room, bob)).toMatchObject({ unread: 2, mentions: 1 });
  });
});

describe("a user's rooms (§10.3)", () => {
  it("answers 401 auth_invalid without a valid identity token", async () => {
    const res = await suite.server.http("/api/me/rooms");
    expect(res.status).toBe(401);
    expect(await res.json()).toMatchObject({ error: "auth_invalid" });
    const bad = await myRooms(await hs256({ sub: "x", name: "X" }, "another-secret-0123456789abcdef-0123456789"));
    expect(bad.status).toBe(401);
  });

  it("lists the rooms a user joined, most recent activity first, with counts as of now", async () => {
    const bob = await person("Bob");
    const quiet = freshRoom("list");
    const busy = freshRoom("list");
    for (const room of [busy, quiet]) await visit(room, bob);
    await sleep(20);
    const ann = await guest(busy, "Ann");
    await say(ann, "news");
    const chat = await say(ann, "@Bob see this");
    const { status, body } = await myRooms(bob.token);
    expect(status).toBe(200);
    expect(body.user).toBe(bob.sub);
    expect(body.rooms?.map((r) => r.room)).toEqual([busy, quiet]);
    expect(body.rooms?.[0]).toMatchObject({ room: busy, seq: chat.seq, unread: 2, mentions: 1, ts: chat.ts });
    expect(body.rooms?.[1]).toMatchObject({ room: quiet, unread: 0, mentions: 0, ts: null });
  });

  it("lists a private room only while the presented token covers it", async () => {
    const room = `private-${freshRoom("p")}`;
    const sub = `p${Math.random()}`;
    const covered = await hs256({ sub, name: "Pat", rooms: [room] });
    const s = await ChatClient.connect(suite.server.wsUrl(room));
    await s.signIn(covered, { protocol: 3 });
    expect((await myRooms(covered)).body.rooms?.map((r) => r.room)).toEqual([room]);
    const plain = await hs256({ sub, name: "Pat" });
    expect((await myRooms(plain)).body.rooms).toEqual([]);
  });

  it("declines permessage-deflate on a /me socket, as on a room's", async () => {
    const me = await ChatClient.connect(meUrl(), {}, undefined, true);
    expect(me.ws.extensions).toBe("");
    await me.close();
  });

  it("closes a /me socket whose first frame is not a valid auth with auth_invalid and 1008", async () => {
    const me = await ChatClient.connect(meUrl());
    me.send({ type: "rooms" });
    expect(await me.next("error")).toMatchObject({ code: "auth_invalid" });
    expect((await me.closed).code).toBe(1008);
  });

  it("sends the rooms after auth, again on request, and pushes a mention while the user is in no room", async () => {
    const bob = await person("Bob");
    const room = freshRoom("live");
    await visit(room, bob);
    const me = await ChatClient.connect(meUrl());
    me.send({ type: "auth", auth: bob.token });
    expect((await me.next("rooms")).rooms.map((r) => r.room)).toEqual([room]);
    me.send({ type: "rooms" });
    expect((await me.next("rooms")).rooms).toHaveLength(1);
    const ann = await guest(room, "Ann");
    const chat = await say(ann, "@Bob are you there?");
    const mention = await me.next("mention", 2000);
    expect(mention).toEqual({
      type: "mention",
      room,
      seq: chat.seq,
      name: "Ann",
      text: "@Bob are you there?",
      ts: chat.ts,
    });
    // Once per message: an edit that keeps the mention tells no one again.
    ann.send({ type: "edit", seq: chat.seq, text: "@Bob still there?" });
    await ann.next("update");
    await sleep(500);
    expect((await me.sync()).filter((f) => f.type === "mention")).toEqual([]);
  });

  it("pushes a mention only to /me sockets whose token admits the room", async () => {
    const room = `private-${freshRoom("p")}`;
    const sub = `q${Math.random()}`;
    const covered = await hs256({ sub, name: "Quin", rooms: [room] });
    const s = await ChatClient.connect(suite.server.wsUrl(room));
    await s.signIn(covered, { protocol: 3 });
    const plainMe = await ChatClient.connect(meUrl());
    plainMe.send({ type: "auth", auth: await hs256({ sub, name: "Quin" }) });
    expect((await plainMe.next("rooms")).rooms).toEqual([]);
    const fullMe = await ChatClient.connect(meUrl());
    fullMe.send({ type: "auth", auth: covered });
    await fullMe.next("rooms");
    const writer = await hs256({ sub: `w${Math.random()}`, name: "Wes", rooms: [room] });
    const w = await ChatClient.connect(suite.server.wsUrl(room));
    await w.signIn(writer, { protocol: 3 });
    w.send({ type: "chat", text: "@Quin hello" });
    expect(await fullMe.next("mention", 2000)).toMatchObject({ room });
    await sleep(300);
    expect((await plainMe.sync()).filter((f) => f.type === "mention")).toEqual([]);
  });
});

describe("the /me gate's limits (§2.4 applied to /me)", () => {
  const strict = chatSuite({
    vars: { AUTH_SECRET: TEST_AUTH_SECRET, JOIN_TIMEOUT_MS: 400, MAX_SOCKETS_PER_USER: 1, MAX_USER_ROOMS: 2 },
  });
  const meOn = () => `${strict.server.origin.replace(/^http/, "ws")}/me`;

  it("closes a /me socket that has not sent auth within JOIN_TIMEOUT_MS with 1008", async () => {
    const me = await ChatClient.connect(meOn());
    expect((await me.closed).code).toBe(1008);
  });

  it("refuses a user's /me socket past MAX_SOCKETS_PER_USER with too_many_sockets", async () => {
    const token = await hs256({ sub: `many-${Math.random()}`, name: "Many" });
    const first = await ChatClient.connect(meOn());
    first.send({ type: "auth", auth: token });
    await first.next("rooms");
    const second = await ChatClient.connect(meOn());
    second.send({ type: "auth", auth: token });
    expect(await second.next("error")).toMatchObject({ code: "too_many_sockets" });
    expect((await second.closed).code).toBe(1008);
  });

  it("keeps at most MAX_USER_ROOMS rooms in a user's list, dropping the least recently active", async () => {
    const token = await hs256({ sub: `rooms-${Math.random()}`, name: "Roamer" });
    const rooms = [freshRoom("cap"), freshRoom("cap"), freshRoom("cap")];
    for (const room of rooms) {
      const c = await ChatClient.connect(strict.server.wsUrl(room));
      await c.signIn(token, { protocol: 3 });
      await c.close();
      await sleep(5);
    }
    const res = await strict.server.http("/api/me/rooms", { headers: { Authorization: `Bearer ${token}` } });
    const body = (await res.json()) as { rooms: UserRoom[] };
    expect(body.rooms.map((r) => r.room)).toEqual([rooms[2], rooms[1]]);
  });
});
