/**
 * Protocol §2.1 for a client that comes back, over real sockets: history
 * replay with `since` and `gap`, and reclaiming a name with its token. The
 * room here keeps 5 messages and holds 3 users, as in join.test.ts.
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
