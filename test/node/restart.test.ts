/**
 * A real restart: the worker runs with Durable Object storage in a
 * directory, is stopped (every socket dropped, every object gone from
 * memory) and started again on the same directory. History and seq must
 * continue. This is the Miniflare equivalent of `wrangler dev --persist-to`
 * being restarted; it does not model a deploy on Cloudflare's network.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, expect, it } from "vitest";
import WebSocket from "ws";
import { ChatClient as Library } from "../../src/client/lib/chat-client";
import { ChatClient, freshRoom } from "../support/client";
import { type ChatServer, ONE_MACHINE_LOAD, startChat } from "../support/server";

const dir = mkdtempSync(join(tmpdir(), "edge-chat-restart-"));
let server: ChatServer | undefined;
afterAll(async () => {
  await server?.stop();
  rmSync(dir, { recursive: true, force: true });
});

it("keeps history and continues seq after the worker is stopped and started again", async () => {
  const room = freshRoom();
  server = await startChat({ persistDir: dir });
  const ann = await ChatClient.connect(server.wsUrl(room));
  await ann.join("Ann");
  for (const text of ["before 1", "before 2", "before 3"]) {
    ann.send({ type: "chat", text, id: text });
    await ann.next("chat");
  }
  await server.stop();
  expect((await ann.closed).code).not.toBe(1000);

  server = await startChat({ persistDir: dir });
  const back = await ChatClient.connect(server.wsUrl(room));
  // The old socket is gone with the old process, so the name is free again.
  const welcome = await back.join("Ann", { since: 1 });
  expect(welcome.seq).toBe(3);
  expect(welcome.history.map((m) => m.text)).toEqual(["before 2", "before 3"]);

  // A retry of a stored message is still recognised after the restart.
  back.send({ type: "chat", text: "before 3", id: "before 3" });
  expect(await back.next("chat")).toMatchObject({ seq: 3 });
  back.send({ type: "chat", text: "after" });
  expect(await back.next("chat")).toMatchObject({ seq: 4, text: "after" });
  await back.close();
});

it("keeps every change of a mixed stream across a restart, and numbers the next event after the last", async () => {
  const room = freshRoom();
  server = await startChat({ persistDir: dir });
  const ann = await ChatClient.connect(server.wsUrl(room));
  await ann.join("Ann");
  ann.send({ type: "chat", text: "one" }); // 1
  ann.send({ type: "chat", text: "two", replyTo: 1 }); // 2
  ann.send({ type: "edit", seq: 1, text: "one, edited" }); // 3
  ann.send({ type: "react", seq: 2, emoji: "🎉" }); // 4
  ann.send({ type: "delete", seq: 1 }); // 5
  await ann.sync();
  await server.stop();

  server = await startChat({ persistDir: dir });
  const back = await ChatClient.connect(server.wsUrl(room));
  const welcome = await back.join("Ann");
  expect(welcome.seq).toBe(5);
  expect(welcome.history).toEqual([
    { type: "chat", room, seq: 1, v: 5, name: "Ann", text: "", ts: expect.any(Number), deleted: true },
    {
      type: "chat",
      room,
      seq: 2,
      v: 4,
      name: "Ann",
      text: "two",
      ts: expect.any(Number),
      replyTo: 1,
      reactions: { "🎉": { count: 1, names: ["Ann"] } },
    },
  ]);
  // The reaction toggles off: the reactor list came back from storage too.
  back.send({ type: "react", seq: 2, emoji: "🎉" });
  expect(await back.next("update")).toMatchObject({ seq: 6, target: 2, reactions: {} });
  await back.close();
});

it("loses and duplicates nothing when restarted in the middle of concurrent senders' batches (group commit)", async () => {
  const room = freshRoom();
  // Senders faster than people, and a ring that holds them all for the check below.
  const vars = { ...ONE_MACHINE_LOAD, RATE_BURST: 1000, RATE_PER_SEC: 1000, HISTORY_LIMIT: 500 };
  server = await startChat({ persistDir: dir, vars });
  const port = Number(new URL(server.origin).port);
  const SENDERS = 8;
  const EACH = 30;
  // The library's own clients: an outbox that resends by `id` after a drop.
  const clients = Array.from(
    { length: SENDERS },
    (_, i) =>
      new Library({
        url: server?.origin ?? "",
        room,
        name: `s${i}`,
        WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      }),
  );
  await Promise.all(clients.map((c) => c.connect()));
  let confirmed = 0;
  // Closed loops: each sender sends its next message once the last is stored.
  const loops = clients.map(async (client, i) => {
    for (let n = 0; n < EACH; n++) {
      await client.send(`s${i}-${n}`);
      confirmed++;
    }
  });
  // Mid-stream, with every sender's next message on the wire or waiting in a batch.
  await expect.poll(() => confirmed, { timeout: 20_000, interval: 5 }).toBeGreaterThanOrEqual(SENDERS * 5);
  await server.stop();
  // Stopped with messages on the wire, unconfirmed: their senders resend them by `id`.
  expect(confirmed).toBeLessThan(SENDERS * EACH);
  server = await startChat({ persistDir: dir, port, vars });
  await Promise.all(loops);

  // Every message once, and each sender's in the order sent.
  const stored: string[] = [];
  for (let since = 0; ; ) {
    const res = await fetch(`${server.origin}/api/rooms/${room}/messages?since=${since}&limit=500`);
    const { messages } = (await res.json()) as { messages: Array<{ seq: number; text: string }> };
    if (messages.length === 0) break;
    stored.push(...messages.map((m) => m.text));
    since = Math.max(...messages.map((m) => m.seq));
  }
  expect(stored).toHaveLength(SENDERS * EACH);
  expect(new Set(stored).size).toBe(SENDERS * EACH);
  for (let i = 0; i < SENDERS; i++) {
    expect(stored.filter((t) => t.startsWith(`s${i}-`))).toEqual(Array.from({ length: EACH }, (_, n) => `s${i}-${n}`));
  }
  for (const c of clients) c.close();
});
