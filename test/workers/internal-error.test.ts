/**
 * A failure inside a handler (here: the storage write of a chat) must not
 * escape to the runtime, must not leak a stack trace, and must not close the
 * socket. The room is built over its real state with the ring's SQL INSERT
 * made to fail, which no client can provoke; it proves the catch in
 * webSocketMessage, not how production storage fails.
 */
import { runInDurableObject } from "cloudflare:test";
import { env } from "cloudflare:workers";
import { expect, it } from "vitest";
import { ChatRoom } from "../../src/room/chat-room";
import { connect } from "./fixtures";

it("answers a handler failure with one internal_error frame and keeps the socket open", async () => {
  const room = "broken-storage";
  const { frames } = await connect(room);

  const stub = env.ROOMS.get(env.ROOMS.idFromName(room));
  await runInDurableObject(stub, async (_live, state) => {
    // The runtime hands out one SqlStorage object per state; an own `exec`
    // shadows the native one until it is deleted again below.
    const sql = state.storage.sql;
    const exec = sql.exec.bind(sql);
    Object.defineProperty(sql, "exec", {
      configurable: true,
      value: (query: string, ...bindings: unknown[]) => {
        if (query.startsWith("INSERT INTO message_log")) throw new Error("disk on fire");
        return exec(query, ...bindings);
      },
    });
    const broken = new ChatRoom(state, env);
    const [server] = state.getWebSockets();
    if (!server) throw new Error("socket lost");

    await broken.webSocketMessage(server, JSON.stringify({ type: "join", name: "Ann" }));
    await broken.webSocketMessage(server, JSON.stringify({ type: "chat", text: "doomed" }));
    await broken.webSocketMessage(server, JSON.stringify({ type: "typing" }));
    await new Promise((resolve) => setTimeout(resolve, 50));

    expect(frames.map((f) => f.type)).toEqual(["welcome", "error"]);
    expect(frames[1]).toEqual({ type: "error", code: "internal_error", message: expect.any(String) });
    expect(JSON.stringify(frames[1])).not.toContain("disk on fire");
    expect(JSON.stringify(frames[1])).not.toMatch(/at .*\.ts/);
    expect(server.readyState).toBe(WebSocket.OPEN);
    Reflect.deleteProperty(sql, "exec");
  });
});
