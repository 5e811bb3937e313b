/**
 * The rest of protocol §2 and §3 over real sockets: typing, leave, ping,
 * every kind of bad input (one error frame each, socket stays open, nothing
 * changes), and what closing does: `left` for the others, a close frame
 * answered promptly, an abrupt TCP drop treated like a close.
 */
import { describe, expect, it } from "vitest";
import { ChatClient, freshRoom, joinedPair } from "../support/client";
import { chatSuite } from "../support/server";

// A short presence grace (§5.4), so the closes without a clean code below end quickly.
const suite = chatSuite({ vars: { MAX_FRAME_BYTES: 1024, PRESENCE_GRACE_MS: 300 } });

const pair = () => joinedPair(suite.server.wsUrl);

describe("typing", () => {
  it("tells the others who is typing, not the typist, and stores nothing", async () => {
    const { room, ann, ben } = await pair();
    ann.send({ type: "typing" });
    expect(await ben.next("typing")).toEqual({ type: "typing", room, name: "Ann" });
    expect(await ann.sync()).toEqual([]);
    const late = await ChatClient.connect(suite.server.wsUrl(room));
    expect((await late.join("Late")).seq).toBe(0);
    await Promise.all([ann.close(), ben.close(), late.close()]);
  });

  it("refuses typing from a socket that has not joined with not_joined", async () => {
    const c = await ChatClient.connect(suite.server.wsUrl(freshRoom()));
    c.send({ type: "typing" });
    expect(await c.sync()).toEqual([expect.objectContaining({ code: "not_joined" })]);
    await c.close();
  });
});

describe("leave", () => {
  it("gives the name back, tells the others `left`, and keeps the socket open to join again", async () => {
    const { room, ann, ben } = await pair();
    ann.send({ type: "leave" });
    expect(await ben.next("left")).toEqual({ type: "left", room, name: "Ann", count: 1, ts: expect.any(Number) });
    expect(await ann.sync()).toEqual([]);
    ann.send({ type: "chat", text: "still here?" });
    expect(await ann.next("error")).toMatchObject({ code: "not_joined" });
    const again = await ann.join("Ann Again");
    expect(again.users).toEqual(["Ben", "Ann Again"]);
    expect(await ben.next("joined")).toMatchObject({ name: "Ann Again", count: 2 });
    await Promise.all([ann.close(), ben.close()]);
  });

  it("refuses leave from a socket that has not joined with not_joined", async () => {
    const c = await ChatClient.connect(suite.server.wsUrl(freshRoom()));
    c.send({ type: "leave" });
    expect(await c.sync()).toEqual([expect.objectContaining({ code: "not_joined" })]);
    await c.close();
  });
});

describe("ping", () => {
  it('answers exactly {"type":"ping"} with exactly {"type":"pong"}, joined or not', async () => {
    const c = await ChatClient.connect(suite.server.wsUrl(freshRoom()));
    const text = new Promise<string>((resolve) => c.ws.once("message", (d) => resolve(d.toString())));
    c.sendRaw('{"type":"ping"}');
    expect(await text).toBe('{"type":"pong"}');
    await c.close();
  });

  it("answers a ping spelled with spaces or extra fields with a pong too", async () => {
    const c = await ChatClient.connect(suite.server.wsUrl(freshRoom()));
    c.sendRaw('{ "type" : "ping" }');
    expect(await c.sync()).toEqual([{ type: "pong" }]);
    await c.close();
  });
});

describe("bad input gets one error frame and changes nothing", () => {
  const cases: Array<[string, string | Buffer, string]> = [
    ["text that is not JSON", "hello", "bad_json"],
    ["truncated JSON", '{"type":"chat","text":"x"', "bad_json"],
    ["a JSON array", '["chat"]', "bad_message"],
    ["a JSON string", '"chat"', "bad_message"],
    ["JSON null", "null", "bad_message"],
    ["a number", "42", "bad_message"],
    ["an object without type", '{"text":"x"}', "bad_message"],
    ["a type that is not a string", '{"type":7}', "bad_message"],
    ["an unknown type", '{"type":"shout","text":"x"}', "bad_message"],
    ["chat text that is a number", '{"type":"chat","text":5}', "bad_message"],
    ["chat without text", '{"type":"chat"}', "bad_message"],
    ["dm without to", '{"type":"dm","text":"x"}', "bad_message"],
    ["join with a token that is not a string", '{"type":"join","name":"Zed","token":5}', "bad_message"],
    ["a binary frame", Buffer.from('{"type":"chat","text":"x"}'), "bad_message"],
    ["a text frame over MAX_FRAME_BYTES", JSON.stringify({ type: "chat", text: "x".repeat(1100) }), "too_large"],
    // 400 three-byte characters: 1,217 bytes but only 417 UTF-16 units.
    [
      "a frame over the limit in bytes but not in characters",
      JSON.stringify({ type: "chat", text: "€".repeat(400) }),
      "too_large",
    ],
    ["a binary frame over MAX_FRAME_BYTES", Buffer.alloc(2000, 1), "too_large"],
  ];
  for (const [what, frame, code] of cases) {
    it(`answers ${what} with ${code}`, async () => {
      const { ann, ben } = await pair();
      ann.sendRaw(frame);
      expect(await ann.sync()).toEqual([{ type: "error", code, message: expect.any(String) }]);
      // The socket is still open and joined, nothing was broadcast, seq did not move.
      ann.send({ type: "chat", text: "after" });
      expect(await ben.next("chat")).toMatchObject({ seq: 1, text: "after" });
      expect(await ben.sync()).toEqual([]);
      await Promise.all([ann.close(), ben.close()]);
    });
  }

  it("accepts a frame of exactly MAX_FRAME_BYTES", async () => {
    const { ann, ben } = await pair();
    const empty = JSON.stringify({ type: "chat", text: "" });
    ann.sendRaw(JSON.stringify({ type: "chat", text: "y".repeat(1024 - empty.length) }));
    expect((await ben.next("chat")).seq).toBe(1);
    await Promise.all([ann.close(), ben.close()]);
  });

  it("ignores fields it does not know", async () => {
    const { ann, ben } = await pair();
    ann.send({ type: "chat", text: "hi", color: "red", seq: 999, name: "Mallory" });
    const chat = await ben.next("chat");
    expect(chat).toMatchObject({ seq: 1, name: "Ann", text: "hi" });
    expect(chat).not.toHaveProperty("color");
    await Promise.all([ann.close(), ben.close()]);
  });
});

describe("closing", () => {
  it("tells the others `left` with the new count when a joined socket closes", async () => {
    const { room, ann, ben } = await pair();
    await ann.close(1000);
    expect(await ben.next("left")).toEqual({ type: "left", room, name: "Ann", count: 1, ts: expect.any(Number) });
    await ben.close();
  });

  it("answers a client's close frame at once with the same code", async () => {
    const c = await ChatClient.connect(suite.server.wsUrl(freshRoom()));
    await c.join("Ann");
    const started = Date.now();
    // ws waits 30 s for the server's close frame before giving up with 1006.
    const closed = await c.close(4321);
    expect(closed.code).toBe(4321);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it("answers a close without a code (1005) with a normal closure, and sends `left` once the grace ends", async () => {
    const { ann, ben } = await pair();
    const closed = await ann.close(null);
    expect([1000, 1005]).toContain(closed.code);
    expect(await ben.next("left")).toMatchObject({ name: "Ann" });
    await ben.close();
  });

  it("treats a dropped connection (no close frame) like a close once the grace ends: `left`, and the name is free", async () => {
    const { room, ann, ben } = await pair();
    ann.terminate();
    expect(await ben.next("left")).toMatchObject({ name: "Ann", count: 1 });
    const again = await ChatClient.connect(suite.server.wsUrl(room));
    expect((await again.join("Ann")).users).toEqual(["Ben", "Ann"]);
    await Promise.all([ben.close(), again.close()]);
  });

  it("sends nothing when a socket that never joined closes", async () => {
    const { room, ben } = await pair();
    const lurker = await ChatClient.connect(suite.server.wsUrl(room));
    await lurker.close();
    // Cat arrives after the lurker's close was answered, so the room has
    // handled that close first: Ben hears Cat's join and nothing before it.
    const cat = await ChatClient.connect(suite.server.wsUrl(room));
    await cat.join("Cat");
    await ben.next("joined");
    expect(ben.inbox).toEqual([]);
    expect(await ben.sync()).toEqual([]);
  });
});
