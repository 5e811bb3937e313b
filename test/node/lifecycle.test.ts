/**
 * Protocol §7 over real sockets: one event sequence, edit, delete, react,
 * reply, and a resume that carries every change. Each rule and error code
 * once; the random interleavings are test/workers/lifecycle.test.ts.
 */

import { describe, expect, it } from "vitest";
import { MessagesPageSchema, parseBody } from "../../src/shared/http";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite, ONE_MACHINE_LOAD, startChat } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const API_TOKEN = "test-api-token-0123456789-abcdefghij";

const suite = chatSuite({
  vars: { ...ONE_MACHINE_LOAD, AUTH_SECRET: TEST_AUTH_SECRET, API_TOKEN, RATE_BURST: 1000, RATE_PER_SEC: 1000 },
});

/** Ann and Ben (guests) in a fresh room; Ann has said "hello" (seq 1); inboxes empty. */
async function pair() {
  const room = freshRoom("life");
  const ann = await ChatClient.connect(suite.server.wsUrl(room));
  const ben = await ChatClient.connect(suite.server.wsUrl(room));
  await ann.join("Ann");
  await ben.join("Ben");
  ann.send({ type: "chat", text: "hello" });
  await ben.next("chat");
  await Promise.all([ann.sync(), ben.sync()]);
  return { room, ann, ben };
}

const errorOf = async (c: ChatClient) => (await c.next("error")).code;

describe("edit (§7.2)", () => {
  it("replaces the author's text under the next seq, and everyone gets one update", async () => {
    const { ann, ben } = await pair();
    ann.send({ type: "edit", seq: 1, text: "hello, world" });
    const update = await ben.next("update");
    expect(update).toEqual({
      type: "update",
      room: expect.any(String),
      seq: 2,
      target: 1,
      v: 2,
      text: "hello, world",
      edited: expect.any(Number),
      // §10.2: an edit's update always says whom the new text mentions.
      mentions: [],
    });
    expect(await ann.next("update")).toEqual(update);
    ann.send({ type: "chat", text: "next" });
    expect(await ben.next("chat")).toMatchObject({ seq: 3, v: 3 });
  });

  it("refuses someone else's message with forbidden, and a number that is no message with not_found", async () => {
    const { ann, ben } = await pair();
    ben.send({ type: "edit", seq: 1, text: "not mine" });
    expect(await errorOf(ben)).toBe("forbidden");
    ann.send({ type: "edit", seq: 1, text: "mine" });
    await ann.next("update"); // seq 2 is this edit, not a message
    for (const seq of [2, 99]) {
      ann.send({ type: "edit", seq, text: "?" });
      expect(await errorOf(ann)).toBe("not_found");
    }
  });

  it("holds an edit to chat's text rules", async () => {
    const { ann } = await pair();
    ann.send({ type: "edit", seq: 1, text: "   " });
    expect(await errorOf(ann)).toBe("bad_message");
    ann.send({ type: "edit", seq: 1, text: "x".repeat(2001) });
    expect(await errorOf(ann)).toBe("too_long");
  });

  it("lets a verified user edit from any of their sockets, by `sub`", async () => {
    const room = freshRoom("life");
    const auth = await hs256({ sub: "u-ann", name: "Ann" });
    const [one, two] = [
      await ChatClient.connect(suite.server.wsUrl(room)),
      await ChatClient.connect(suite.server.wsUrl(room)),
    ];
    await one.signIn(auth);
    await two.signIn(auth);
    one.send({ type: "chat", text: "typo" });
    await two.next("chat");
    two.send({ type: "edit", seq: 1, text: "fixed" });
    expect(await one.next("update")).toMatchObject({ target: 1, text: "fixed" });
  });
});

describe("delete (§7.2)", () => {
  it("turns the message into a tombstone for everyone, and it can then be neither edited nor reacted to", async () => {
    const { room, ann, ben } = await pair();
    ann.send({ type: "delete", seq: 1 });
    expect(await ben.next("update")).toEqual({ type: "update", room, seq: 2, target: 1, v: 2, deleted: true });
    ann.send({ type: "edit", seq: 1, text: "back" });
    expect(await errorOf(ann)).toBe("not_found");
    ben.send({ type: "react", seq: 1, emoji: "👍" });
    expect(await errorOf(ben)).toBe("not_found");
    const late = await ChatClient.connect(suite.server.wsUrl(room));
    const { history } = await late.join("Late");
    expect(history).toEqual([
      { type: "chat", room, seq: 1, v: 2, name: "Ann", text: "", ts: expect.any(Number), deleted: true },
    ]);
  });

  it("lets a moderator delete anyone's message, and nobody else", async () => {
    const { room, ann, ben } = await pair();
    ben.send({ type: "delete", seq: 1 });
    expect(await errorOf(ben)).toBe("forbidden");
    const mod = await ChatClient.connect(suite.server.wsUrl(room));
    await mod.signIn(await hs256({ sub: "u-mod", name: "Mod", role: "moderator" }));
    mod.send({ type: "delete", seq: 1 });
    expect(await ann.next("update")).toMatchObject({ target: 1, deleted: true });
  });
});

describe("react (§7.2, §7.3)", () => {
  it("toggles the sender's reaction, and every update carries the whole summary", async () => {
    const { ann, ben } = await pair();
    ben.send({ type: "react", seq: 1, emoji: "👍" });
    expect((await ann.next("update")).reactions).toEqual({ "👍": { count: 1, names: ["Ben"] } });
    ann.send({ type: "react", seq: 1, emoji: "👍" });
    expect((await ann.next("update")).reactions).toEqual({ "👍": { count: 2, names: ["Ben", "Ann"] } });
    ben.send({ type: "react", seq: 1, emoji: "👍" });
    expect((await ann.next("update")).reactions).toEqual({ "👍": { count: 1, names: ["Ann"] } });
    ann.send({ type: "react", seq: 1, emoji: "👍" });
    const last = await ann.next("update");
    expect([last.seq, last.reactions]).toEqual([5, {}]);
  });

  it("holds at most 20 emoji on a message (too_many_reactions), and refuses a malformed emoji", async () => {
    const { ann } = await pair();
    const emoji = [..."😀😁😂🤣😃😄😅😆😉😊😋😎😍😘🥰😗😙🥲😚🙂"];
    for (const e of emoji) ann.send({ type: "react", seq: 1, emoji: e });
    await ann.sync();
    ann.send({ type: "react", seq: 1, emoji: "🤔" });
    expect(await errorOf(ann)).toBe("too_many_reactions");
    ann.send({ type: "react", seq: 1, emoji: "😀" }); // toggling an existing one still works
    expect((await ann.next("update")).reactions?.["😀"]).toBeUndefined();
    for (const bad of ["", "a b", "123456789"]) {
      ann.send({ type: "react", seq: 1, emoji: bad });
      expect(await errorOf(ann)).toBe("bad_message");
    }
  });
});

describe("replies (§7.2)", () => {
  it("carries replyTo for a message in the ring, and refuses one that is not (or deleted) with not_found", async () => {
    const { ann, ben } = await pair();
    ben.send({ type: "chat", text: "answer", replyTo: 1 });
    expect(await ann.next("chat")).toMatchObject({ seq: 2, replyTo: 1 });
    ben.send({ type: "chat", text: "to nothing", replyTo: 99 });
    expect(await errorOf(ben)).toBe("not_found");
    ann.send({ type: "delete", seq: 1 });
    await ben.next("update");
    ben.send({ type: "chat", text: "to a tombstone", replyTo: 1 });
    expect(await errorOf(ben)).toBe("not_found");
  });

  it("answers a retried chat with replyTo with the original, stored once", async () => {
    const { ann, ben } = await pair();
    ben.send({ type: "chat", text: "answer", replyTo: 1, id: "r1" });
    const original = await ben.next("chat");
    ben.send({ type: "chat", text: "answer", replyTo: 1, id: "r1" });
    expect(await ben.next("chat")).toEqual(original);
    expect((await ann.sync()).filter((f) => f.type === "chat")).toHaveLength(1);
  });
});

describe("resume with changes (§7.4)", () => {
  it("gives a client that was away every new and changed message once, in its latest state, by seq", async () => {
    const { room, ann, ben } = await pair(); // seq 1: hello
    ann.send({ type: "chat", text: "second" }); // 2
    await ben.next("chat");
    await ben.sync();
    const since = 2; // the last seq Ben saw
    await ben.close();
    ann.send({ type: "edit", seq: 1, text: "hello (edited)" }); // 3
    ann.send({ type: "chat", text: "third" }); // 4
    ann.send({ type: "react", seq: 4, emoji: "🎉" }); // 5
    ann.send({ type: "delete", seq: 2 }); // 6
    await ann.sync();
    const back = await ChatClient.connect(suite.server.wsUrl(room));
    const welcome = await back.join("Ben", { since });
    expect(welcome.seq).toBe(6);
    expect(welcome.gap).toBe(false);
    expect(welcome.history.map((m) => [m.seq, m.v, m.text, m.deleted ?? false])).toEqual([
      [1, 3, "hello (edited)", false],
      [2, 6, "", true],
      [4, 5, "third", false],
    ]);
    expect(welcome.history[2]?.reactions).toEqual({ "🎉": { count: 1, names: ["Ann"] } });
  });

  it("serves the same rule over HTTP: messages with v > since", async () => {
    const { room, ann } = await pair();
    ann.send({ type: "chat", text: "two" }); // 2
    ann.send({ type: "edit", seq: 1, text: "one, edited" }); // 3
    await ann.sync();
    const res = await suite.server.http(`/api/rooms/${room}/messages?since=2`);
    const body = parseBody(MessagesPageSchema, await res.json());
    expect(body?.messages.map((m) => [m.seq, m.v, m.text])).toEqual([[1, 3, "one, edited"]]);
  });
});

describe("limits and moderation", () => {
  it("counts edits and reactions against the rate limit like chat", async () => {
    const strict = await startChat({ vars: { RATE_BURST: 3, RATE_PER_SEC: 0.01 } });
    try {
      const c = await ChatClient.connect(strict.wsUrl(freshRoom("life")));
      await c.join("Ann");
      c.send({ type: "chat", text: "one" });
      c.send({ type: "edit", seq: 1, text: "uno" });
      c.send({ type: "react", seq: 1, emoji: "👍" });
      c.send({ type: "react", seq: 1, emoji: "👎" });
      const answers = (await c.sync()).map((f) => (f.type === "error" ? f.code : f.type));
      expect(answers).toEqual(["chat", "update", "update", "rate_limited"]);
    } finally {
      await strict.stop();
    }
  });

  it("keeps a muted member from editing and reacting, not from deleting their own message", async () => {
    const { room, ann, ben } = await pair();
    const mod = await ChatClient.connect(suite.server.wsUrl(room));
    await mod.signIn(await hs256({ sub: "u-mod", name: "Mod", role: "moderator" }));
    mod.send({ type: "mute", name: "Ann", minutes: 5 });
    await ann.next("moderation");
    ann.send({ type: "edit", seq: 1, text: "let me" });
    expect(await errorOf(ann)).toBe("muted");
    ann.send({ type: "react", seq: 1, emoji: "👍" });
    expect(await errorOf(ann)).toBe("muted");
    ann.send({ type: "delete", seq: 1 });
    expect(await ben.next("update")).toMatchObject({ target: 1, deleted: true });
  });
});
