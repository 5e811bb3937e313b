/**
 * Rebuilding a room from what hibernation keeps. Inside workerd, a second
 * ChatRoom is built over the live object's state, as the runtime does after
 * an eviction: it must recover the roster (names, join order) from the
 * socket attachments alone. This proves the constructor's restore path; the
 * real 10 s eviction is test/hibernation/eviction.test.ts.
 */

import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { SignJWT } from "jose";
import { describe, expect, it } from "vitest";
import { ChatRoom } from "../../src/room/chat-room";
import { isSocketState } from "../../src/room/state/socket-state";
import { connect, inRoom, last, type Socket, until } from "./fixtures";

function attachmentName(ws: WebSocket): string | undefined {
  const value: unknown = ws.deserializeAttachment();
  return isSocketState(value) ? value.member?.name : undefined;
}

describe("a room rebuilt over the same state", () => {
  it("recovers names and join order from attachments and keeps enforcing them", async () => {
    const room = "restore-1";
    const [ann, ben, cat] = [await connect(room), await connect(room), await connect(room)];
    ann.ws.send(JSON.stringify({ type: "join", name: "Ann" }));
    await until(last(ann, "welcome"), "Ann's welcome");
    ben.ws.send(JSON.stringify({ type: "join", name: "Ben" }));
    await until(last(ben, "welcome"), "Ben's welcome");

    const stub = env.ROOMS.get(env.ROOMS.idFromName(room));
    await runInDurableObject(stub, async (_live, state) => {
      const rebuilt = new ChatRoom(state, env);
      const sockets = state.getWebSockets();
      const catWs = sockets.find((ws) => attachmentName(ws) === undefined);
      const annWs = sockets.find((ws) => attachmentName(ws) === "Ann");
      if (!catWs || !annWs) throw new Error("attachments lost");

      // The rebuilt roster still holds Ann (case-insensitively)...
      await rebuilt.webSocketMessage(catWs, JSON.stringify({ type: "join", name: "ANN" }));
      const taken = await until(last(cat, "error"), "name_taken");
      expect(taken).toMatchObject({ code: "name_taken" });

      // ...in join order, with the newcomer last.
      await rebuilt.webSocketMessage(catWs, JSON.stringify({ type: "join", name: "Cat" }));
      const welcome = await until(last(cat, "welcome"), "Cat's welcome");
      expect(welcome).toMatchObject({ room, users: ["Ann", "Ben", "Cat"] });

      // A close seen by the rebuilt object still produces `left`. (Its reply
      // to the close also reaches the original, live instance, which sends a
      // second `left` of its own; the rebuilt room's is the first.)
      rebuilt.webSocketClose(annWs, 1000, "bye");
      const left = await until(() => ben.frames.find((f) => f.type === "left"), "left");
      expect(left).toMatchObject({ name: "Ann", count: 2 });
    });
  });

  it("keeps a rate bucket that refills slower than an eviction in the attachment, so a rebuilt room does not refill it", async () => {
    const room = "restore-2";
    const ann = await connect(room);
    ann.ws.send(JSON.stringify({ type: "join", name: "Ann" }));
    await until(last(ann, "welcome"), "welcome");
    // 0.01 tokens/s: 1,000 s to refill, so every spend is written through
    // (with the default 2 s it is not: src/room/state/budgets.ts, test/hibernation).
    const slow = { ...env, RATE_PER_SEC: 0.01 };
    await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), async (_live, state) => {
      const [annWs] = state.getWebSockets();
      if (!annWs) throw new Error("socket lost");
      // Spend the whole burst (10), then build the room again over the same state.
      const first = new ChatRoom(state, slow);
      for (let i = 0; i < 10; i++) await first.webSocketMessage(annWs, JSON.stringify({ type: "chat", text: `m${i}` }));
      const rebuilt = new ChatRoom(state, slow);
      await rebuilt.webSocketMessage(annWs, JSON.stringify({ type: "chat", text: "one more" }));
    });
    await until(() => (ann.frames.filter((f) => f.type === "chat").length === 10 ? true : undefined), "10 chats");
    expect(await until(last(ann, "error"), "rate_limited")).toMatchObject({ code: "rate_limited" });
  });

  it("keeps an address's join budget in storage, so a rebuilt room does not refill it", async () => {
    const room = "restore-joins";
    const sockets: Socket[] = [];
    for (let i = 0; i < 6; i++) sockets.push(await connect(room));
    // One join per socket a minute, five per address: the sixth is refused.
    const strict = { ...env, JOINS_PER_MINUTE: 1 };
    await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), async (_live, state) => {
      const first = new ChatRoom(state, strict);
      const all = state.getWebSockets();
      for (const [i, ws] of all.slice(0, 5).entries()) {
        await first.webSocketMessage(ws, JSON.stringify({ type: "join", name: `user-${i}` }));
      }
      const sixth = all[5];
      if (!sixth) throw new Error("socket lost");
      const rebuilt = new ChatRoom(state, strict);
      await rebuilt.webSocketMessage(sixth, JSON.stringify({ type: "join", name: "user-5" }));
    });
    // The runtime lists sockets in its own order, so answers are counted, not matched.
    await until(() => (sockets.every((s) => s.frames.length > 0) ? true : undefined), "every answer");
    const firsts = sockets.map((s) => s.frames[0]?.code ?? s.frames[0]?.type);
    expect(firsts.filter((f) => f === "welcome")).toHaveLength(5);
    expect(firsts.filter((f) => f === "rate_limited")).toHaveLength(1);
  });

  it("keeps a departed name's rate bucket in storage, so leaving and coming back after a rebuild does not refill it", async () => {
    const room = "restore-name-bucket";
    const [first, second] = [await connect(room), await connect(room)];
    const slow = { ...env, RATE_PER_SEC: 0.01 };
    await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), async (_live, state) => {
      const [a, b] = state.getWebSockets();
      if (!a || !b) throw new Error("sockets lost");
      const before = new ChatRoom(state, slow);
      await before.webSocketMessage(a, JSON.stringify({ type: "join", name: "Ann" }));
      for (let i = 0; i < 10; i++) await before.webSocketMessage(a, JSON.stringify({ type: "chat", text: `m${i}` }));
      await before.webSocketMessage(a, JSON.stringify({ type: "leave" }));

      const rebuilt = new ChatRoom(state, slow);
      await rebuilt.webSocketMessage(b, JSON.stringify({ type: "join", name: "Ann" }));
      await rebuilt.webSocketMessage(b, JSON.stringify({ type: "chat", text: "a fresh bucket?" }));
    });
    const all = () => [...first.frames, ...second.frames].map((f) => f.code ?? f.type);
    const done = () => all().includes("rate_limited") && all().filter((f) => f === "chat").length >= 10;
    await until(() => (done() ? true : undefined), "ten chats and rate_limited");
    expect(all().filter((f) => f === "welcome")).toHaveLength(2);
    expect(all().filter((f) => f === "chat")).toHaveLength(10);
    expect(all().filter((f) => f === "rate_limited")).toHaveLength(1);
  });

  it("restores a verified user's several sockets as one member, who leaves with the last", async () => {
    const room = "restore-user";
    const [one, two, ben] = [await connect(room), await connect(room), await connect(room)];
    const signed = { ...env, AUTH_SECRET };
    const auth = await identityToken("u-ann", "Ann");
    await runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), async (_live, state) => {
      const before = new ChatRoom(state, signed);
      const [a, b, c] = state.getWebSockets();
      if (!a || !b || !c) throw new Error("sockets lost");
      await before.webSocketMessage(a, JSON.stringify({ type: "join", auth }));
      await before.webSocketMessage(b, JSON.stringify({ type: "join", auth }));
      await before.webSocketMessage(c, JSON.stringify({ type: "join", name: "Ben" }));

      const rebuilt = new ChatRoom(state, signed);
      expect(rebuilt.snapshot().users).toEqual(["Ann", "Ben"]);
      rebuilt.webSocketClose(a, 1000, "one tab");
      rebuilt.webSocketClose(b, 1000, "the other");
    });
    // The runtime lists sockets in its own order: Ben is whichever was welcomed as Ben.
    const sockets = [one, two, ben];
    const benSocket = sockets.find((s) => s.frames.some((f) => f.type === "welcome" && f.name === "Ben"));
    const left = await until(() => benSocket?.frames.find((f) => f.type === "left"), "left");
    expect(left).toMatchObject({ name: "Ann", user: "u-ann", count: 1 });
    expect(sockets.flatMap((s) => s.frames).filter((f) => f.type === "left")).toHaveLength(1);
  });

  it("keeps a member who dropped in storage, so a rebuilt room still holds their name until the grace ends", async () => {
    const room = "restore-away";
    const [ann, ben, cat] = [await connect(room), await connect(room), await connect(room)];
    ann.ws.send(JSON.stringify({ type: "join", name: "Ann" }));
    await until(last(ann, "welcome"), "Ann's welcome");
    ben.ws.send(JSON.stringify({ type: "join", name: "Ben" }));
    await until(last(ben, "welcome"), "Ben's welcome");
    // Not a clean close (1000/1001): Ann keeps her place for PRESENCE_GRACE_MS (5 s).
    ann.ws.close(4000, "gone");
    const awayRows = (state: DurableObjectState) =>
      state.storage.sql.exec("SELECT count(*) AS n FROM sqlite_master WHERE name = 'away'").one().n === 0
        ? 0
        : state.storage.sql.exec("SELECT count(*) AS n FROM away").one().n;
    await until(() => inRoom(room, (state) => awayRows(state) === 1), "Ann's away row");

    await inRoom(room, async (state) => {
      const rebuilt = new ChatRoom(state, env);
      expect(rebuilt.snapshot().users).toEqual(["Ann", "Ben"]);
      const catWs = state.getWebSockets().find((ws) => attachmentName(ws) === undefined);
      if (!catWs) throw new Error("Cat's socket lost");
      await rebuilt.webSocketMessage(catWs, JSON.stringify({ type: "join", name: "ann" }));
    });
    expect(await until(last(cat, "error"), "name_taken")).toMatchObject({ code: "name_taken" });
    // The grace ends from the room's alarm: `left` for Ben, and the row is gone.
    expect(await until(last(ben, "left"), "left", 100)).toMatchObject({ name: "Ann", count: 1 });
    expect(await inRoom(room, awayRows)).toBe(0);
  }, 20_000);
});

const AUTH_SECRET = "restore-auth-secret-0123456789abcdefghij";

function identityToken(sub: string, name: string): Promise<string> {
  return new SignJWT({ sub, name, aud: "edge-chat" })
    .setProtectedHeader({ alg: "HS256" })
    .setExpirationTime("1h")
    .sign(new TextEncoder().encode(AUTH_SECRET));
}
