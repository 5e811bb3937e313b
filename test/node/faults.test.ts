/**
 * Faults and load, bounded so they run in CI: racing joins, a burst over the
 * rate limit, a reconnect storm of 300 clients, and a restart of the runtime
 * while clients keep sending through the browser client's own session logic
 * (src/client/connection.ts). The real 10 s eviction is test/hibernation/.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import WebSocket from "ws";
import { ChatConnection, type Handlers } from "../../src/client/connection";
import type { ChatFrame, WelcomeFrame } from "../../src/shared/server-frames";
import { ChatClient, freshRoom } from "../support/client";
import { handlers } from "../support/handlers";
import { chatSuite, ONE_MACHINE_LOAD, startChat } from "../support/server";

const suite = chatSuite({ vars: ONE_MACHINE_LOAD });

describe("concurrency", () => {
  it("lets exactly one of 50 sockets claiming the same name at once win; 49 get name_taken", async () => {
    const room = freshRoom();
    const clients = await Promise.all(Array.from({ length: 50 }, () => ChatClient.connect(suite.server.wsUrl(room))));
    for (const c of clients) c.send({ type: "join", name: "Highlander" });
    const answers = await Promise.all(clients.map((c) => c.sync()));
    const firsts = answers.map((frames) => frames[0]);
    expect(firsts.filter((f) => f?.type === "welcome")).toHaveLength(1);
    expect(firsts.filter((f) => f?.type === "error" && f.code === "name_taken")).toHaveLength(49);
    await Promise.all(clients.map((c) => c.close()));
  });
});

describe("the rate limit", () => {
  it("lets a burst of 100 chats through only up to RATE_BURST plus the refill; the rest are rate_limited", async () => {
    const room = freshRoom();
    const ann = await ChatClient.connect(suite.server.wsUrl(room));
    await ann.join("Ann");
    const start = Date.now();
    for (let i = 0; i < 100; i++) ann.send({ type: "chat", text: `burst ${i}` });
    const frames = await ann.sync();
    const elapsedSec = (Date.now() - start) / 1000;
    const chats = frames.filter((f) => f.type === "chat");
    const limited = frames.filter((f) => f.type === "error" && f.code === "rate_limited");
    // wrangler.toml: RATE_BURST 10, RATE_PER_SEC 5.
    expect(chats.length).toBeGreaterThanOrEqual(10);
    expect(chats.length).toBeLessThanOrEqual(10 + Math.ceil(elapsedSec * 5));
    expect(chats.length + limited.length).toBe(100);
    await ann.close();
  });
});

describe("a reconnect storm", () => {
  it("gives 300 clients that drop and reconnect at once their names and exactly the messages they missed", async () => {
    const room = freshRoom();
    const n = 300;
    const first = await Promise.all(Array.from({ length: n }, () => ChatClient.connect(suite.server.wsUrl(room))));
    const welcomes = await joinAll(first, (i) => ({ name: `user-${i}` }));
    const poster = await ChatClient.connect(suite.server.wsUrl(room));
    await poster.join("Poster");
    poster.send({ type: "chat", text: "seen by all" });
    await poster.next("chat");

    // Everyone's network drops at once (no close frames)...
    for (const c of first) c.terminate();
    // ...and messages keep coming meanwhile.
    for (const text of ["missed 1", "missed 2", "missed 3"]) {
      poster.send({ type: "chat", text });
      await poster.next("chat");
    }
    const again = await Promise.all(Array.from({ length: n }, () => ChatClient.connect(suite.server.wsUrl(room))));
    const back = await joinAll(again, (i) => ({ name: `user-${i}`, since: 1, token: welcomes[i]?.token }));
    for (const [i, w] of back.entries()) {
      expect(w.name).toBe(`user-${i}`);
      expect(w.history.map((m) => m.text)).toEqual(["missed 1", "missed 2", "missed 3"]);
    }
    poster.send({ type: "leave" });
    await poster.sync();
    await Promise.all([...again, poster].map((c) => c.close()));
  }, 240_000); // a ceiling only: joinAll fails first when the room stops making progress
});

describe("a restart while clients are sending", () => {
  const dir = mkdtempSync(join(tmpdir(), "edge-chat-faults-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("delivers every acknowledged message exactly once, in seq order, with no gap, to every client", async () => {
    const room = freshRoom();
    let restartable = await startChat({
      persistDir: dir,
      vars: { ...ONE_MACHINE_LOAD, RATE_BURST: 1000, RATE_PER_SEC: 1000 },
    });
    const port = Number(new URL(restartable.origin).port);
    const names = ["Ann", "Ben", "Cat", "Dan", "Eve"];
    const seen = new Map<string, ChatFrame[]>(names.map((n) => [n, []]));
    const live = new Set<string>();
    const reconnected = new Set<string>();
    const sessions = names.map(
      (name) =>
        new ChatConnection({
          url: restartable.wsUrl(room),
          name,
          WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
          on: recorder(name, seen, live, reconnected),
        }),
    );
    try {
      await expect.poll(() => live.size).toBe(names.length);
      const perClient = 20;
      // Each client queues its messages at a steady pace; the server stops
      // and starts again in the middle.
      const sending = (async () => {
        for (let i = 0; i < perClient; i++) {
          for (const [k, s] of sessions.entries()) expect(s.chat(`${names[k]} ${i}`)).toEqual(expect.any(String));
          await new Promise((r) => setTimeout(r, 30));
        }
      })();
      await new Promise((r) => setTimeout(r, 200));
      await restartable.stop();
      restartable = await startChat({
        persistDir: dir,
        port,
        vars: { ...ONE_MACHINE_LOAD, RATE_BURST: 1000, RATE_PER_SEC: 1000 },
      });
      await sending;

      const total = names.length * perClient;
      await expect
        .poll(() => Math.min(...[...seen.values()].map((frames) => frames.length)), { timeout: 30_000 })
        .toBe(total);
      // The restart really cut every client off mid-stream.
      expect([...reconnected].sort()).toEqual([...names].sort());
      for (const [name, frames] of seen) {
        const seqs = frames.map((f) => f.seq);
        expect(seqs, `${name} saw every seq once, in order`).toEqual(Array.from({ length: total }, (_, i) => i + 1));
        const texts = new Set(frames.map((f) => f.text));
        for (const sender of names) {
          for (let i = 0; i < perClient; i++) expect(texts.has(`${sender} ${i}`)).toBe(true);
        }
      }
    } finally {
      for (const s of sessions) s.leave();
      await restartable.stop();
    }
  }, 60_000);
});

/** How long a storm may go without a single new welcome before it counts as stuck. */
const STALL_MS = 10_000;

/**
 * Sends every client its join at once and waits for all the welcomes for
 * as long as the room keeps making progress: a busy machine makes the
 * storm slower, never a failure; a room that stops welcoming anyone for
 * STALL_MS fails, naming who is missing. Any refusal fails at once.
 */
async function joinAll(clients: ChatClient[], join: (i: number) => Record<string, unknown>): Promise<WelcomeFrame[]> {
  for (const [i, c] of clients.entries()) c.send({ type: "join", ...join(i) });
  const welcomeOf = (c: ChatClient) => c.inbox.find((f): f is WelcomeFrame => f.type === "welcome");
  let done = 0;
  let progressAt = Date.now();
  for (;;) {
    const refused = clients.find((c) => c.inbox.some((f) => f.type === "error"));
    if (refused)
      throw new Error(`a join was refused: ${JSON.stringify(refused.inbox.find((f) => f.type === "error"))}`);
    const welcomed = clients.filter((c) => welcomeOf(c) !== undefined).length;
    if (welcomed === clients.length) break;
    if (welcomed > done) [done, progressAt] = [welcomed, Date.now()];
    else if (Date.now() - progressAt > STALL_MS) {
      const missing = clients.findIndex((c) => welcomeOf(c) === undefined);
      throw new Error(`no welcome for ${missing} (and ${clients.length - welcomed - 1} more) in ${STALL_MS} ms`);
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return clients.map((c) => {
    const welcome = welcomeOf(c);
    if (!welcome) throw new Error("welcome lost");
    c.inbox.splice(c.inbox.indexOf(welcome), 1);
    return welcome;
  });
}

/** Connection handlers that record every chat a client is shown. */
function recorder(name: string, seen: Map<string, ChatFrame[]>, live: Set<string>, reconnected: Set<string>): Handlers {
  const frames = seen.get(name) ?? [];
  return handlers({
    status: (state) => {
      if (state === "live") live.add(name);
      else live.delete(name);
      if (state === "reconnecting") reconnected.add(name);
    },
    welcome: (_w, history) => frames.push(...history),
    chat: (chat) => frames.push(chat),
  });
}
