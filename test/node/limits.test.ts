/**
 * Protocol §2.4, limits per address, over real sockets: what one address
 * can do to a room whatever the number of sockets and names it uses, and
 * what a name keeps across leave, close and a new socket. Clients connect
 * from different loopback addresses (127.0.0.2, 127.0.0.3, …), which the
 * runtime reports as their CF-Connecting-IP.
 *
 * Refill rates are near zero here (0.01/s) so every count is exact however
 * slow the machine: the tests count the frames other people receive, never
 * time. Refill itself is the bucket's unit test (test/node/rate-limit.test.ts).
 */
import * as v from "valibot";
import { describe, expect, it } from "vitest";
import { WebSocket } from "ws";
import { ChatClient, freshRoom } from "../support/client";
import { chatSuite, startChat } from "../support/server";
import { hs256, TEST_AUTH_SECRET } from "../support/tokens";

const SLOW = { RATE_PER_SEC: 0.01, ADDRESS_RATE_PER_SEC: 0.01 };

const suite = chatSuite({ vars: SLOW });

const ATTACKER = "127.0.0.2";
const BYSTANDER = "127.0.0.3";

const open = (room: string, from = ATTACKER) => ChatClient.connect(suite.server.wsUrl(room), {}, from);
const count = (frames: Array<{ type: string; code?: string }>, what: string) =>
  frames.filter((f) => (f.code ?? f.type) === what).length;

describe("one address, many sockets and names", () => {
  it("stores at most ADDRESS_RATE_BURST (40) messages from 50 sockets with 50 names", async () => {
    const room = freshRoom();
    const watcher = await open(room, BYSTANDER);
    await watcher.join("Watcher");
    const bots = await Promise.all(Array.from({ length: 50 }, () => open(room)));
    for (const [i, bot] of bots.entries()) await bot.join(`bot-${i}`);
    // Each name has a full bucket of 10: 500 messages the names alone would allow.
    for (const bot of bots) for (let i = 0; i < 10; i++) bot.send({ type: "chat", text: "spam" });
    const refused = (await Promise.all(bots.map((b) => b.sync()))).flat();
    expect(count(refused, "rate_limited")).toBe(500 - 40);
    const seen = await watcher.sync();
    expect(count(seen, "chat")).toBe(40);
    await Promise.all([watcher, ...bots].map((c) => c.close()));
  });

  it("leaves the budget of every other address alone: their messages all get through", async () => {
    const room = freshRoom();
    const bots = await Promise.all(Array.from({ length: 5 }, () => open(room)));
    for (const [i, bot] of bots.entries()) await bot.join(`bot-${i}`);
    for (const bot of bots) for (let i = 0; i < 10; i++) bot.send({ type: "chat", text: "spam" });
    await Promise.all(bots.map((b) => b.sync()));
    const ann = await open(room, BYSTANDER);
    await ann.join("Ann");
    for (let i = 0; i < 10; i++) ann.send({ type: "chat", text: `real ${i}` });
    expect(count(await ann.sync(), "chat")).toBe(10);
    await Promise.all([ann, ...bots].map((c) => c.close()));
  });

  it("refuses an upgrade beyond MAX_SOCKETS_PER_ADDRESS with 429 too_many_sockets, and only for that address", async () => {
    const strict = await startChat({ vars: { MAX_SOCKETS_PER_ADDRESS: 3 } });
    try {
      const room = freshRoom();
      const held = await Promise.all([1, 2, 3].map(() => ChatClient.connect(strict.wsUrl(room))));
      const refusal = await strict.handshake(`/chat/${room}`);
      expect(refusal).toMatchObject({ status: 429, body: { error: "too_many_sockets" } });
      const other = await ChatClient.connect(strict.wsUrl(room), {}, BYSTANDER);
      await other.join("Other");
      // A closed socket gives its place back.
      await held[0]?.close();
      const again = await ChatClient.connect(strict.wsUrl(room));
      await Promise.all([again, other, ...held.slice(1)].map((c) => c.close()));
    } finally {
      await strict.stop();
    }
  });
});

describe("the address a room counts", () => {
  it("is the /64 of an IPv6 client: two addresses of one /64 share MAX_SOCKETS_PER_ADDRESS, another /64 does not", async () => {
    const strict = await startChat({ vars: { MAX_SOCKETS_PER_ADDRESS: 2 } });
    const from = (ip: string) => ({ "CF-Connecting-IP": ip });
    try {
      const room = freshRoom();
      const held = await Promise.all(
        ["2001:db8:1:2::1", "2001:db8:1:2::2"].map((ip) => ChatClient.connect(strict.wsUrl(room), from(ip))),
      );
      const refusal = await strict.handshake(`/chat/${room}`, from("2001:db8:1:2:ffff::3"));
      expect(refusal).toMatchObject({ status: 429, body: { error: "too_many_sockets" } });
      const neighbour = await ChatClient.connect(strict.wsUrl(room), from("2001:db8:1:3::1"));
      await neighbour.join("Neighbour");
      await Promise.all([neighbour, ...held].map((c) => c.close()));
    } finally {
      await strict.stop();
    }
  });
});

describe("a name's rate bucket", () => {
  it("follows the name across leave and a join on a fresh socket", async () => {
    const room = freshRoom();
    const first = await open(room);
    await first.join("Ann");
    for (let i = 0; i < 10; i++) first.send({ type: "chat", text: `m${i}` });
    expect(count(await first.sync(), "chat")).toBe(10);
    first.send({ type: "leave" });
    await first.sync();
    const second = await open(room);
    await second.join("Ann");
    second.send({ type: "chat", text: "fresh bucket?" });
    expect(count(await second.sync(), "rate_limited")).toBe(1);
    await Promise.all([first.close(), second.close()]);
  });

  it("follows the name across a closed socket", async () => {
    const room = freshRoom();
    const first = await open(room);
    await first.join("Ben");
    for (let i = 0; i < 10; i++) first.send({ type: "chat", text: `m${i}` });
    await first.sync();
    await first.close();
    const second = await open(room);
    await second.join("ben"); // the same name in another case
    second.send({ type: "chat", text: "fresh bucket?" });
    expect(count(await second.sync(), "rate_limited")).toBe(1);
    await second.close();
  });
});

describe("joins", () => {
  it("lets one socket join JOINS_PER_MINUTE (20) times a minute; then rate_limited, and nobody hears more", async () => {
    const room = freshRoom();
    const watcher = await open(room, BYSTANDER);
    await watcher.join("Watcher");
    const churn = await open(room);
    for (let i = 0; i < 30; i++) {
      churn.send({ type: "join", name: `churn-${i}` });
      churn.send({ type: "leave" });
    }
    const answers = await churn.sync();
    expect(count(answers, "welcome")).toBe(20);
    expect(count(answers, "rate_limited")).toBe(10);
    const heard = await watcher.sync();
    expect(count(heard, "joined")).toBe(20);
    expect(count(heard, "left")).toBe(20);
    await Promise.all([watcher.close(), churn.close()]);
  });

  it("lets one address join five times JOINS_PER_MINUTE a minute in a room, over all its sockets", async () => {
    const strict = await startChat({ vars: { JOINS_PER_MINUTE: 2 } });
    try {
      const room = freshRoom();
      const sockets = await Promise.all(Array.from({ length: 8 }, () => ChatClient.connect(strict.wsUrl(room))));
      for (const [i, s] of sockets.entries()) {
        s.send({ type: "join", name: `a-${i}` });
        s.send({ type: "leave" });
        s.send({ type: "join", name: `b-${i}` });
      }
      const answers = (await Promise.all(sockets.map((s) => s.sync()))).flat();
      expect(count(answers, "welcome")).toBe(10);
      expect(count(answers, "rate_limited")).toBe(6);
      // Another address is not affected.
      const other = await ChatClient.connect(strict.wsUrl(room), {}, BYSTANDER);
      await other.join("Other");
      await Promise.all([other, ...sockets].map((c) => c.close()));
    } finally {
      await strict.stop();
    }
  });

  it("closes a socket that has not joined within JOIN_TIMEOUT_MS with 1008, and leaves joined ones open", async () => {
    const quick = await startChat({ vars: { JOIN_TIMEOUT_MS: 300 } });
    try {
      const room = freshRoom();
      const [idle, member] = await Promise.all([
        ChatClient.connect(quick.wsUrl(room)),
        ChatClient.connect(quick.wsUrl(room)),
      ]);
      await member.join("Member");
      expect((await idle.closed).code).toBe(1008);
      // The member is still there and can talk.
      member.send({ type: "chat", text: "still here" });
      expect(await member.next("chat")).toMatchObject({ text: "still here" });
      await member.close();
    } finally {
      await quick.stop();
    }
  });

  it("closes the longest-waiting unjoined socket when MAX_UNJOINED_SOCKETS wait, so a newcomer always gets in", async () => {
    const strict = await startChat({ vars: { MAX_UNJOINED_SOCKETS: 3, AUTH_SECRET: TEST_AUTH_SECRET } });
    try {
      const room = `private-${freshRoom()}`;
      const squatters: ChatClient[] = [];
      for (let i = 0; i < 3; i++) squatters.push(await ChatClient.connect(strict.wsUrl(room), {}, ATTACKER));
      // The cap is held by one address; a member from another gets in, again and again.
      const stillOpen: boolean[][] = [];
      for (let round = 0; round < 3; round++) {
        // The attacker tops the cap up again before each newcomer.
        if (round > 0) squatters.push(await ChatClient.connect(strict.wsUrl(room), {}, ATTACKER));
        const member = await ChatClient.connect(strict.wsUrl(room), {}, BYSTANDER);
        const welcome = await member.signIn(await hs256({ sub: `u-${round}`, name: `Member ${round}`, rooms: [room] }));
        expect(welcome.room).toBe(room);
        // The room's close frame arrives at once; the TCP close only later, so the state is what tells.
        await closing(squatters[round]);
        stillOpen.push(squatters.map((q) => q.ws.readyState === WebSocket.OPEN));
        await member.close();
      }
      // Each newcomer closed the socket that had waited longest, and only that one.
      expect(stillOpen).toEqual([
        [false, true, true],
        [false, false, true, true],
        [false, false, false, true, true],
      ]);
    } finally {
      await strict.stop();
    }
  });
});

/** Resolves once the client has received the server's close frame (its state leaves OPEN). */
async function closing(client: ChatClient | undefined): Promise<void> {
  while (client && client.ws.readyState === WebSocket.OPEN) await new Promise((r) => setTimeout(r, 10));
}

describe("typing", () => {
  it("relays one typing per user per 2 s and drops the rest without an answer", async () => {
    const room = freshRoom();
    const watcher = await open(room, BYSTANDER);
    await watcher.join("Watcher");
    const typist = await open(room);
    await typist.join("Typist");
    await watcher.next("joined");
    for (let i = 0; i < 200; i++) typist.send({ type: "typing" });
    expect(await typist.sync()).toEqual([]);
    // 200 frames take far less than 2 s to arrive; one more relay is
    // allowed for a machine slow enough to straddle the window.
    const relayed = count(await watcher.sync(), "typing");
    expect(relayed).toBeGreaterThanOrEqual(1);
    expect(relayed).toBeLessThanOrEqual(2);
    await Promise.all([watcher.close(), typist.close()]);
  });
});

describe("answers to one socket's own frames", () => {
  it("carries at most WELCOME_HISTORY_BYTES of history in a welcome: the newest messages, with gap, the rest over HTTP", async () => {
    const capped = await startChat({ vars: { WELCOME_HISTORY_BYTES: 2000 } });
    try {
      const room = freshRoom();
      const ann = await ChatClient.connect(capped.wsUrl(room));
      await ann.join("Ann");
      for (let i = 1; i <= 10; i++) {
        ann.send({ type: "chat", text: `${i} ${"x".repeat(300)}` });
        await ann.next("chat");
      }
      const ben = await ChatClient.connect(capped.wsUrl(room), {}, BYSTANDER);
      const welcome = await ben.join("Ben");
      const bytes = welcome.history.reduce((n, m) => n + Buffer.byteLength(JSON.stringify(m)), 0);
      expect(bytes).toBeLessThanOrEqual(2000);
      expect(welcome.history.length).toBeGreaterThan(0);
      expect(welcome.history.at(-1)?.seq).toBe(10);
      expect(welcome.gap).toBe(true);
      // What did not fit is a page away.
      const oldest = welcome.history[0]?.seq ?? 0;
      const res = await capped.http(`/api/rooms/${room}/messages?since=0&limit=${oldest - 1}`);
      const { messages } = v.parse(v.object({ messages: v.array(v.object({ seq: v.number() })) }), await res.json());
      expect(messages.map((m) => m.seq)).toEqual(Array.from({ length: oldest - 1 }, (_, i) => i + 1));
      await Promise.all([ann.close(), ben.close()]);
    } finally {
      await capped.stop();
    }
  });

  it("sends one socket at most REPLY_BYTES_PER_MINUTE of errors; past that they are dropped, and broadcasts still arrive", async () => {
    const strict = await startChat({ vars: { REPLY_BYTES_PER_MINUTE: 2000 } });
    try {
      const room = freshRoom();
      const noisy = await ChatClient.connect(strict.wsUrl(room));
      await noisy.join("Noisy");
      for (let i = 0; i < 200; i++) noisy.sendRaw("not json");
      noisy.send({ type: "chat", text: "the last frame" });
      // The chat is a broadcast, not an answer: it arrives after every answer the room sent.
      await noisy.next("chat");
      const errors = noisy.inbox.filter((f) => f.type === "error");
      const bytes = errors.reduce((n, f) => n + Buffer.byteLength(JSON.stringify(f)), 0);
      expect(errors.length).toBeGreaterThan(0);
      expect(errors.length).toBeLessThan(200);
      // The welcome came out of the same budget; one answer may overdraw it.
      expect(bytes).toBeLessThanOrEqual(2000);
      await noisy.close();
    } finally {
      await strict.stop();
    }
  });
});
