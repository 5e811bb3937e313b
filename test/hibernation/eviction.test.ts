/**
 * Real hibernation: local workerd evicts a Durable Object that has been idle
 * for about 10 s, and runs its constructor again on the next event. This
 * test waits that out twice and checks that chat, presence and seq are still
 * right. It proves eviction happened by the room's "woke from hibernation"
 * log line, which only a constructor that finds sockets already there prints.
 * It does not prove behaviour under Cloudflare's production eviction policy,
 * which may wait longer, but never shorter, before evicting.
 */
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const IDLE_MS = 13_000;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

// A refill too slow to matter over the test (0.01 tokens/s), so the rate
// bucket's state after each eviction is exact.
const suite = chatSuite({ vars: { RATE_PER_SEC: 0.01 } });

const wakeUps = () => suite.server.logs.filter((line) => line.includes("woke from hibernation")).length;

it("keeps chat, presence, seq and rate buckets right across two real evictions", async () => {
  const room = freshRoom("hib");
  const ann = await ChatClient.connect(suite.server.wsUrl(room));
  const ben = await ChatClient.connect(suite.server.wsUrl(room));
  const cat = await ChatClient.connect(suite.server.wsUrl(room));
  const annWelcome = await ann.join("Ann");
  await ben.join("Ben");
  await cat.join("Cat");
  ann.send({ type: "chat", text: "before the nap", id: "n1" });
  expect(await ben.next("chat")).toMatchObject({ seq: 1 });
  // Ben spends 9 of his 10 rate tokens (RATE_BURST) before the nap.
  for (let i = 2; i <= 10; i++) ben.send({ type: "chat", text: `filler ${i}` });
  // Ben's round trip first: once it returns, all his fillers were handled,
  // so the others' round trips collect them.
  expect((await ben.sync()).filter((f) => f.type === "chat")).toHaveLength(9);
  await Promise.all([ann, cat].map((c) => c?.sync()));
  const wakesBefore = wakeUps();

  await sleep(IDLE_MS);

  // The heartbeat is answered by the runtime and does not wake the object.
  ann.sendRaw('{"type":"ping"}');
  expect(await ann.next("pong")).toEqual({ type: "pong" });
  expect(wakeUps()).toBe(wakesBefore);

  // A socket that closes while the object is evicted still produces `left`.
  await cat.close();
  expect(await ann.next("left")).toMatchObject({ name: "Cat", count: 2 });
  expect(await ben.next("left")).toMatchObject({ name: "Cat", count: 2 });
  expect(wakeUps()).toBe(wakesBefore + 1);

  // Chat continues with the next seq, and a retry from before the nap is still recognised.
  ann.send({ type: "chat", text: "before the nap", id: "n1" });
  expect(await ann.next("chat")).toMatchObject({ seq: 1 });
  ben.send({ type: "chat", text: "after the nap" });
  expect(await ann.next("chat")).toMatchObject({ seq: 11, name: "Ben" });
  // That was Ben's last token: the bucket came back from the attachment, not refilled.
  ben.send({ type: "chat", text: "one too many" });
  expect(await ben.next("error")).toMatchObject({ code: "rate_limited" });

  await sleep(IDLE_MS);

  // After a second eviction, the roster, the name rules and history are intact.
  const dan = await ChatClient.connect(suite.server.wsUrl(room));
  dan.send({ type: "join", name: "ann" });
  expect(await dan.next("error")).toMatchObject({ code: "name_taken" });
  const welcome = await dan.join("Dan", { since: 10 });
  expect(welcome).toMatchObject({ users: ["Ann", "Ben", "Dan"], seq: 11, gap: false });
  expect(welcome.history.map((m) => m.text)).toEqual(["after the nap"]);
  expect(await ben.next("joined")).toMatchObject({ name: "Dan", count: 3 });
  expect(wakeUps()).toBe(wakesBefore + 2);

  // And the token issued before both evictions still reclaims the name.
  const annAgain = await ChatClient.connect(suite.server.wsUrl(room));
  expect((await annAgain.join("Ann", { token: annWelcome.token })).users).toEqual(["Ann", "Ben", "Dan"]);
  expect((await ann.closed).code).toBe(4001);

  await Promise.all([annAgain.close(), ben.close(), dan.close()]);
});

describe("the join timeout", () => {
  // Longer than the ~10 s the runtime waits before it evicts an idle room.
  const quickSuite = chatSuite({ vars: { JOIN_TIMEOUT_MS: 15_000 } });

  it("closes a socket that never joined with 1008 from an alarm that wakes the evicted room", async () => {
    const room = freshRoom("hib");
    const member = await ChatClient.connect(quickSuite.server.wsUrl(room));
    await member.join("Member");
    const idle = await ChatClient.connect(quickSuite.server.wsUrl(room));
    const woke = () => quickSuite.server.logs.filter((line) => line.includes("woke from hibernation")).length;
    const before = woke();
    expect((await idle.closed).code).toBe(1008);
    // The room had been evicted, and the alarm woke it to close the socket.
    expect(woke()).toBe(before + 1);
    // The member was not touched.
    member.send({ type: "chat", text: "still here" });
    expect(await member.next("chat")).toMatchObject({ text: "still here" });
    await member.close();
  });
});

describe("the presence grace (§5.4)", () => {
  const GRACE_MS = 20_000;
  // A grace longer than the ~10 s the runtime waits before it evicts an idle room.
  const gracefulSuite = chatSuite({ vars: { AUTH_SECRET: TEST_AUTH_SECRET, PRESENCE_GRACE_MS: GRACE_MS } });
  const woke = () => gracefulSuite.server.logs.filter((line) => line.includes("woke from hibernation")).length;

  it("ends from an alarm that wakes the evicted room: `left` for the others", async () => {
    const room = freshRoom("hib");
    const ben = await ChatClient.connect(gracefulSuite.server.wsUrl(room));
    await ben.join("Ben");
    const ann = await ChatClient.connect(gracefulSuite.server.wsUrl(room));
    await ann.signIn(await hs256({ sub: "u-ann", name: "Ann" }));
    await ben.sync();
    const before = woke();
    ann.terminate();
    expect(await ben.next("left", GRACE_MS + 10_000)).toMatchObject({ name: "Ann", user: "u-ann", count: 1 });
    // The room had been evicted, and the alarm woke it to end the grace.
    expect(woke()).toBe(before + 1);
  });

  it("lets a member return to an evicted room within the grace, and nobody hears a thing", async () => {
    const room = freshRoom("hib");
    const ben = await ChatClient.connect(gracefulSuite.server.wsUrl(room));
    await ben.join("Ben");
    const gus = await ChatClient.connect(gracefulSuite.server.wsUrl(room));
    const { token } = await gus.join("Gus");
    await ben.sync();
    const before = woke();
    gus.terminate();
    await sleep(IDLE_MS);
    const back = await ChatClient.connect(gracefulSuite.server.wsUrl(room));
    expect((await back.join("Gus", { token })).users).toEqual(["Ben", "Gus"]);
    expect(woke()).toBe(before + 1);
    // Past the end of the grace the member is still here, and nobody heard a thing.
    await sleep(GRACE_MS - IDLE_MS + 2000);
    expect((await ben.sync()).filter((f) => f.type === "left" || f.type === "joined")).toEqual([]);
  });
});

describe("a timed mute (§6.2)", () => {
  const moderatedSuite = chatSuite({ vars: { AUTH_SECRET: TEST_AUTH_SECRET } });

  it("ends from an alarm that wakes the evicted room, with nobody's help", async () => {
    const room = freshRoom("hib");
    const mod = await ChatClient.connect(moderatedSuite.server.wsUrl(room));
    await mod.signIn(await hs256({ sub: "u-mod", name: "Mod", role: "moderator" }));
    const gus = await ChatClient.connect(moderatedSuite.server.wsUrl(room));
    await gus.join("Gus");
    mod.send({ type: "mute", name: "Gus", minutes: 1 });
    const { until } = await gus.next("moderation");
    const woke = () => moderatedSuite.server.logs.filter((line) => line.includes("woke from hibernation")).length;
    const before = woke();
    // Nobody sends anything: the room is evicted after ~10 s, and the alarm wakes it at `until`.
    const ended = await gus.next("moderation", 75_000);
    expect(ended).toMatchObject({ action: "unmute", name: "Gus", by: "system" });
    expect(ended.ts).toBeGreaterThanOrEqual(until ?? 0);
    // Evicted at least once meanwhile (the sockets' join-timeout alarm at
    // 30 s may wake it once more before the mute ends at 60 s).
    expect(woke()).toBeGreaterThan(before);
    gus.send({ type: "chat", text: "free" });
    expect(await mod.next("chat")).toMatchObject({ name: "Gus", text: "free" });
  });
});

describe("a member's chat bucket under the default limits (10 tokens, 5/s: full in 2 s)", () => {
  const defaultsSuite = chatSuite();
  const woke = () => defaultsSuite.server.logs.filter((line) => line.includes("woke from hibernation")).length;

  it("is full again long before the room can be evicted, so it is not written per chat", async () => {
    const ann = await ChatClient.connect(defaultsSuite.server.wsUrl(freshRoom("hib")));
    await ann.join("Ann");
    /** RATE_BURST + 1 chats at once: what came back. */
    const burst = async () => {
      for (let i = 0; i <= 10; i++) ann.send({ type: "chat", text: `burst ${i}` });
      const frames = await ann.sync();
      return {
        chats: frames.filter((f) => f.type === "chat").length,
        refused: frames.filter((f) => f.type === "error" && f.code === "rate_limited").length,
      };
    };
    expect(await burst()).toEqual({ chats: 10, refused: 1 });
    const before = woke();
    // 7 s without an event, 3.5 times the refill: the room is still in memory.
    await sleep(7_000);
    expect(await burst()).toEqual({ chats: 10, refused: 1 });
    expect(woke()).toBe(before);
    // Evicted with the bucket empty in memory only: it wakes full, as it would have been.
    await sleep(IDLE_MS);
    expect(await burst()).toEqual({ chats: 10, refused: 1 });
    expect(woke()).toBe(before + 1);
    await ann.close();
  });
});

it("continues a mixed stream of chats, edits, deletes and reactions across a real eviction", async () => {
  const room = freshRoom("hib");
  const ann = await ChatClient.connect(suite.server.wsUrl(room));
  const ben = await ChatClient.connect(suite.server.wsUrl(room));
  await ann.join("Ann");
  await ben.join("Ben");
  ann.send({ type: "chat", text: "one" }); // 1
  // Two sockets' frames are not ordered with each other: Ben reacts once "one" is stored.
  await ann.sync();
  ben.send({ type: "react", seq: 1, emoji: "👍" }); // 2
  await ben.sync();
  ann.send({ type: "chat", text: "two" }); // 3
  ann.send({ type: "edit", seq: 3, text: "two, edited" }); // 4
  // Ann's round trip first: once it returns, the edit was handled, so Ben's collects its update.
  await ann.sync();
  await ben.sync();
  const wakesBefore = wakeUps();

  await sleep(IDLE_MS);

  // After the eviction: the reactor list and authorship came back from storage.
  ben.send({ type: "react", seq: 1, emoji: "👍" });
  expect(await ann.next("update")).toMatchObject({ seq: 5, target: 1, reactions: {} });
  expect(await ben.next("update")).toMatchObject({ seq: 5 });
  expect(wakeUps()).toBe(wakesBefore + 1);
  ben.send({ type: "edit", seq: 3, text: "not mine" });
  expect(await ben.next("error")).toMatchObject({ code: "forbidden" });
  ann.send({ type: "delete", seq: 3 });
  expect(await ben.next("update")).toMatchObject({ seq: 6, target: 3, deleted: true });
  const late = await ChatClient.connect(suite.server.wsUrl(room));
  const welcome = await late.join("Late", { since: 4 });
  expect(welcome.history.map((m) => [m.seq, m.v])).toEqual([
    [1, 5],
    [3, 6],
  ]);
});

describe("retention (§8.1)", () => {
  // 0.0001 days = 8.64 s: messages expire after that, and the sweep (at most
  // the retention itself later) falls after the ~10 s eviction.
  const retentionSuite = chatSuite({ vars: { HISTORY_RETENTION_DAYS: 0.0001, HISTORY_LIMIT: 2 } });

  it("deletes expired messages from an alarm in a room nobody visits, ring and archive alike", async () => {
    const room = freshRoom("hib");
    const ann = await ChatClient.connect(retentionSuite.server.wsUrl(room));
    await ann.join("Ann");
    for (const text of ["first words", "second words", "third words"]) ann.send({ type: "chat", text });
    await ann.sync();
    await ann.close();
    const swept = () =>
      retentionSuite.server.logs.filter((l) => l.includes(`room ${room}: deleted 3 expired messages`));
    // Nobody is in the room from here on: only its alarm can run it.
    for (let waited = 0; swept().length === 0 && waited < 40_000; waited += 500) await sleep(500);
    expect(swept()).toHaveLength(1);
    const ben = await ChatClient.connect(retentionSuite.server.wsUrl(room));
    const welcome = await ben.join("Ben");
    expect([welcome.seq, welcome.history]).toEqual([3, []]);
    ben.send({ type: "search", q: "words" });
    ben.send({ type: "history" });
    expect(await ben.sync()).toMatchObject([
      { type: "search", results: [], more: false },
      { type: "history", messages: [], more: false },
    ]);
    // Numbering goes on after the rows that carried it are gone.
    ben.send({ type: "chat", text: "fresh" });
    expect(await ben.next("chat")).toMatchObject({ seq: 4 });
    await ben.close();
  });
});

describe("batched presence (§9.2)", () => {
  // A batch interval longer than the ~10 s the runtime waits before it
  // evicts an idle room: the second join's batch is pending at eviction.
  const BATCH_MS = 16_000;
  const batchSuite = chatSuite({ vars: { PRESENCE_BATCH_MS: BATCH_MS } });
  const woke = () => batchSuite.server.logs.filter((line) => line.includes("woke from hibernation")).length;

  it("delivers a batch that was pending when the room was evicted, from the alarm that wakes it", async () => {
    const room = freshRoom("hib");
    const ann = await ChatClient.connect(batchSuite.server.wsUrl(room));
    await ann.join("Ann", { protocol: 3 });
    const ben = await ChatClient.connect(batchSuite.server.wsUrl(room));
    await ben.join("Ben");
    // The first change after a quiet interval goes out at once; the next waits for the batch.
    expect(await ann.next("presence")).toMatchObject({ joined: [{ name: "Ben" }], count: 2 });
    const cat = await ChatClient.connect(batchSuite.server.wsUrl(room));
    await cat.join("Cat");
    await ann.sync();
    const before = woke();
    const batch = await ann.next("presence", BATCH_MS + 10_000);
    expect(batch).toMatchObject({ joined: [{ name: "Cat" }], left: [], count: 3 });
    // The room had been evicted, and the alarm woke it to send the batch.
    expect(woke()).toBe(before + 1);
  });
});
