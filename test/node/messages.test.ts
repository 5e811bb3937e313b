/**
 * Protocol §2.2 (chat) and §2.3 (dm) over real sockets, with the default
 * limits from wrangler.toml except a near-zero refill (RATE_PER_SEC 0.01),
 * so a burst's outcome is exact however slow the machine: seq, broadcast,
 * idempotent ids, the text rules and the shared rate limit. Refill over time
 * is covered by the bucket's unit tests, not timed here.
 */
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom, joinedPair } from "../support/client";
import { chatSuite } from "../support/server";

const suite = chatSuite({ vars: { RATE_PER_SEC: 0.01 } });

const pair = () => joinedPair(suite.server.wsUrl);

const codes = (frames: Array<{ type: string; code?: string }>) => frames.map((f) => f.code ?? f.type);

describe("chat", () => {
  it("refuses chat from a socket that has not joined with not_joined", async () => {
    const c = await ChatClient.connect(suite.server.wsUrl(freshRoom()));
    c.send({ type: "chat", text: "hello" });
    expect(codes(await c.sync())).toEqual(["not_joined"]);
    await c.close();
  });

  it("numbers messages 1, 2, 3 and sends each to every joined socket, the sender included", async () => {
    const { room, ann, ben } = await pair();
    for (const text of ["a", "b", "c"]) ann.send({ type: "chat", text });
    for (const client of [ann, ben]) {
      const got = [await client.next("chat"), await client.next("chat"), await client.next("chat")];
      expect(got).toEqual(
        ["a", "b", "c"].map((text, i) => ({
          type: "chat",
          room,
          seq: i + 1,
          v: i + 1,
          name: "Ann",
          text,
          ts: expect.any(Number),
        })),
      );
    }
    await Promise.all([ann.close(), ben.close()]);
  });

  it("stamps ts with the server's clock in milliseconds", async () => {
    const { ann, ben } = await pair();
    const before = Date.now();
    ann.send({ type: "chat", text: "now" });
    const { ts } = await ben.next("chat");
    expect(ts).toBeGreaterThan(before - 60_000);
    expect(ts).toBeLessThan(Date.now() + 60_000);
    await Promise.all([ann.close(), ben.close()]);
  });

  it("echoes the client's id and omits id and bot when none was given", async () => {
    const { ann, ben } = await pair();
    ann.send({ type: "chat", text: "with id", id: "m-1" });
    ann.send({ type: "chat", text: "without" });
    const [withId, without] = [await ben.next("chat"), await ben.next("chat")];
    expect(withId.id).toBe("m-1");
    expect(without).not.toHaveProperty("id");
    expect(without).not.toHaveProperty("bot");
    await Promise.all([ann.close(), ben.close()]);
  });

  it("does not store or broadcast a retry with a used id; the sender alone gets the original again", async () => {
    const { ann, ben } = await pair();
    ann.send({ type: "chat", text: "once", id: "retry-me" });
    const original = await ann.next("chat");
    await ben.next("chat");
    ann.send({ type: "chat", text: "once (retry, text may differ)", id: "retry-me" });
    expect(await ann.sync()).toEqual([original]);
    ann.send({ type: "chat", text: "next" });
    expect(await ben.next("chat")).toMatchObject({ seq: original.seq + 1, text: "next" });
    expect(await ben.sync()).toEqual([]);
    await Promise.all([ann.close(), ben.close()]);
  });

  it("scopes ids to the sender: another user may use the same id", async () => {
    const { ann, ben } = await pair();
    ann.send({ type: "chat", text: "ann's", id: "same" });
    await ben.next("chat");
    ben.send({ type: "chat", text: "ben's", id: "same" });
    expect(await ann.next("chat")).toMatchObject({ text: "ann's" });
    expect(await ann.next("chat")).toMatchObject({ text: "ben's", seq: 2 });
    await Promise.all([ann.close(), ben.close()]);
  });

  it("refuses an id that is empty, longer than 64 characters or not a string with bad_message", async () => {
    const { ann, ben } = await pair();
    ann.send({ type: "chat", text: "x", id: "" });
    ann.send({ type: "chat", text: "x", id: "i".repeat(65) });
    ann.send({ type: "chat", text: "x", id: 7 });
    expect(codes(await ann.sync())).toEqual(["bad_message", "bad_message", "bad_message"]);
    ann.send({ type: "chat", text: "x", id: "🙂".repeat(64) });
    expect(await ben.next("chat")).toMatchObject({ seq: 1, id: "🙂".repeat(64) });
    await Promise.all([ann.close(), ben.close()]);
  });

  it("refuses empty and whitespace-only text with bad_message", async () => {
    const { ann } = await pair();
    for (const text of ["", " ", "\n\t  \u3000"]) ann.send({ type: "chat", text });
    expect(codes(await ann.sync())).toEqual(["bad_message", "bad_message", "bad_message"]);
    await ann.close();
  });

  it("accepts MAX_MESSAGE_CHARS (2000) code points and refuses one more with too_long", async () => {
    const { ann, ben } = await pair();
    ann.send({ type: "chat", text: "😀".repeat(2001) });
    expect(codes(await ann.sync())).toEqual(["too_long"]);
    ann.send({ type: "chat", text: "😀".repeat(2000) });
    expect((await ben.next("chat")).seq).toBe(1);
    await Promise.all([ann.close(), ben.close()]);
  });

  it("keeps text exactly as sent, newlines, tabs and odd Unicode included", async () => {
    const { ann, ben } = await pair();
    const text = "line 1\nline 2\t\u202e<b>&amp;</b> \u00a0 \ud800 end";
    ann.send({ type: "chat", text });
    expect((await ben.next("chat")).text).toBe(text);
    await Promise.all([ann.close(), ben.close()]);
  });

  it("refuses text with a control character other than newline and tab with bad_message, and broadcasts nothing", async () => {
    const { ann, ben } = await pair();
    ann.send({ type: "chat", text: "\u0001".repeat(2000) });
    ann.send({ type: "dm", to: "Ben", text: "bell\u0007" });
    expect(codes(await ann.sync())).toEqual(["bad_message", "bad_message"]);
    expect(await ben.sync()).toEqual([]);
    await Promise.all([ann.close(), ben.close()]);
  });

  it("rate-limits: a burst beyond RATE_BURST (10) is answered rate_limited and never broadcast", async () => {
    const { ann, ben } = await pair();
    for (let i = 0; i < 15; i++) ann.send({ type: "chat", text: `burst ${i}` });
    const frames = await ann.sync();
    const sent = frames.filter((f) => f.type === "chat").length;
    const limited = frames.filter((f) => f.type === "error" && f.code === "rate_limited").length;
    expect(sent).toBe(10);
    expect(limited).toBe(5);
    const seen = (await ben.sync()).filter((f) => f.type === "chat");
    expect(seen.length).toBe(sent);
    await Promise.all([ann.close(), ben.close()]);
  });
});

describe("rate limit decisions", () => {
  it("spends no token on refused frames, unknown recipients or idempotent retries", async () => {
    const { ann, ben } = await pair();
    for (const text of [" ", "", "x".repeat(2001)]) ann.send({ type: "chat", text });
    ann.send({ type: "dm", to: "nobody", text: "hello?" });
    ann.send({ type: "chat", text: "first", id: "once" });
    for (let i = 0; i < 3; i++) ann.send({ type: "chat", text: "first", id: "once" });
    for (let i = 0; i < 9; i++) ann.send({ type: "chat", text: `more ${i}` });
    const frames = await ann.sync();
    expect(frames.filter((f) => f.type === "error" && f.code === "rate_limited")).toEqual([]);
    expect((await ben.sync()).filter((f) => f.type === "chat")).toHaveLength(10);
    ann.send({ type: "chat", text: "eleventh" });
    expect(codes(await ann.sync())).toEqual(["rate_limited"]);
    await Promise.all([ann.close(), ben.close()]);
  });

  it("does not refill the bucket when a socket leaves and joins again", async () => {
    const { ann, ben } = await pair();
    for (let i = 0; i < 10; i++) ann.send({ type: "chat", text: `m${i}` });
    ann.send({ type: "leave" });
    await ann.sync();
    await ann.join("Ann Again");
    ann.send({ type: "chat", text: "fresh start?" });
    expect(codes(await ann.sync())).toEqual(["rate_limited"]);
    await Promise.all([ann.close(), ben.close()]);
  });

  it("moves the bucket with a reclaimed name, so reconnecting does not refill it", async () => {
    const room = freshRoom();
    const ann = await ChatClient.connect(suite.server.wsUrl(room));
    const { token } = await ann.join("Ann");
    for (let i = 0; i < 10; i++) ann.send({ type: "chat", text: `m${i}` });
    await ann.sync();
    const again = await ChatClient.connect(suite.server.wsUrl(room));
    await again.join("Ann", { token });
    again.send({ type: "chat", text: "after reconnect" });
    expect(codes(await again.sync())).toEqual(["rate_limited"]);
    await Promise.all([again.close(), ann.closed]);
  });
});

describe("dm", () => {
  it("delivers to the target and echoes to the sender, and no one else", async () => {
    const { room, ann, ben } = await pair();
    const cat = await ChatClient.connect(suite.server.wsUrl(room));
    await cat.join("Cat");
    await Promise.all([ann.next("joined"), ben.next("joined")]);
    ann.send({ type: "dm", to: "ben", text: "psst" });
    const expected = { type: "dm", from: "Ann", to: "Ben", text: "psst", ts: expect.any(Number) };
    expect(await ben.next("dm")).toEqual(expected);
    expect(await ann.next("dm")).toEqual(expected);
    expect(await cat.sync()).toEqual([]);
    await Promise.all([ann.close(), ben.close(), cat.close()]);
  });

  it("is not stored: a later joiner's history does not hold it and seq does not move", async () => {
    const { room, ann, ben } = await pair();
    ann.send({ type: "dm", to: "Ben", text: "secret" });
    await ben.next("dm");
    const late = await ChatClient.connect(suite.server.wsUrl(room));
    const welcome = await late.join("Late");
    expect(welcome).toMatchObject({ history: [], seq: 0 });
    await Promise.all([ann.close(), ben.close(), late.close()]);
  });

  it("delivers a dm to yourself once, and trims the recipient's name", async () => {
    const { ann } = await pair();
    ann.send({ type: "dm", to: "  ANN ", text: "note to self" });
    const frames = await ann.sync();
    expect(frames).toEqual([{ type: "dm", from: "Ann", to: "Ann", text: "note to self", ts: expect.any(Number) }]);
    await ann.close();
  });

  it("answers an unknown recipient with no_such_user", async () => {
    const { ann } = await pair();
    ann.send({ type: "dm", to: "nobody", text: "hello?" });
    expect(codes(await ann.sync())).toEqual(["no_such_user"]);
    await ann.close();
  });

  it("applies the text rules of chat", async () => {
    const { ann } = await pair();
    ann.send({ type: "dm", to: "Ben", text: "  " });
    ann.send({ type: "dm", to: "Ben", text: "x".repeat(2001) });
    expect(codes(await ann.sync())).toEqual(["bad_message", "too_long"]);
    await ann.close();
  });

  it("refuses dm from a socket that has not joined with not_joined", async () => {
    const { room, ann } = await pair();
    const stranger = await ChatClient.connect(suite.server.wsUrl(room));
    stranger.send({ type: "dm", to: "Ann", text: "hi" });
    expect(codes(await stranger.sync())).toEqual(["not_joined"]);
    expect(await ann.sync()).toEqual([]);
    await Promise.all([ann.close(), stranger.close()]);
  });

  it("shares the rate limit with chat", async () => {
    const { ann, ben } = await pair();
    for (let i = 0; i < 10; i++) ann.send({ type: "chat", text: `c${i}` });
    ann.send({ type: "dm", to: "Ben", text: "one too many" });
    const frames = await ann.sync();
    expect(frames.at(-1)).toMatchObject({ type: "error", code: "rate_limited" });
    expect((await ben.sync()).some((f) => f.type === "dm")).toBe(false);
    await Promise.all([ann.close(), ben.close()]);
  });
});
