/**
 * The browser client's session logic (src/client/connection.ts) in Node, with
 * the `ws` package as the WebSocket: the backoff schedule, and a connection
 * that stops answering, which only the heartbeat can notice. A scripted
 * server stands in for the room so it can play dead on cue.
 */
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import { backoffMs, ChatConnection, type Handlers } from "../../src/client/connection";
import { DEFAULT_LIMITS } from "../../src/shared/limits";
import { PING_TEXT, parseClientFrame } from "../../src/shared/protocol";

describe("backoffMs", () => {
  it("doubles from 500 ms to a 30 s ceiling, always in the upper half of its step", () => {
    for (let attempt = 0; attempt < 12; attempt++) {
      const ceiling = Math.min(30_000, 500 * 2 ** attempt);
      expect(backoffMs(attempt, () => 0)).toBe(ceiling / 2);
      expect(backoffMs(attempt, () => 0.999_999)).toBeCloseTo(ceiling, -1);
    }
    expect(backoffMs(40, () => 1)).toBe(30_000);
  });
});

describe("the heartbeat", () => {
  let wss: WebSocketServer | undefined;
  let conn: ChatConnection | undefined;
  afterEach(() => {
    conn?.leave();
    wss?.close();
  });

  it("pings with the exact auto-response text and replaces a socket that stops answering", async () => {
    const joins: Array<Record<string, unknown>> = [];
    const pings: string[] = [];
    let answer = true;
    wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    wss.on("connection", (ws) => {
      ws.on("message", (data) => {
        const text = data.toString();
        if (text === PING_TEXT) {
          pings.push(text);
          if (answer) ws.send('{"type":"pong"}');
          return;
        }
        const parsed = parseClientFrame(text, DEFAULT_LIMITS.maxFrameBytes);
        if (!parsed.ok || parsed.frame.type !== "join") return;
        const frame = parsed.frame;
        joins.push(frame);
        const welcome = { type: "welcome", room: "r", name: frame.name, users: [frame.name], history: [] };
        ws.send(JSON.stringify({ ...welcome, seq: 7, token: "tok", gap: false }));
      });
    });
    const server = wss;
    await new Promise((resolve) => server.once("listening", resolve));
    const port = (server.address() as AddressInfo).port;
    const states: string[] = [];
    conn = new ChatConnection({
      url: `ws://127.0.0.1:${port}/chat/r`,
      name: "Ann",
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      timing: { heartbeatMs: 40, pongTimeoutMs: 60 },
      on: {
        status: (state) => states.push(state),
        welcome() {},
        chat() {},
        presence() {},
        typing() {},
        dm() {},
        error() {},
        outbox() {},
      },
    });
    // Answered pings keep it live.
    await expect.poll(() => pings.length).toBeGreaterThanOrEqual(3);
    expect(states).toEqual(["connecting", "live"]);

    // Silence: the heartbeat gives up on the socket and joins again, with since and token.
    answer = false;
    await expect.poll(() => joins.length, { timeout: 5000 }).toBe(2);
    expect(states).toContain("reconnecting");
    expect(joins[1]).toEqual({ type: "join", name: "Ann", since: 7, token: "tok" });
  });
});

describe("reconnecting", () => {
  let wss: WebSocketServer | undefined;
  let conn: ChatConnection | undefined;
  afterEach(() => {
    conn?.leave();
    wss?.close();
  });

  const quiet = (status: Handlers["status"]): Handlers => ({
    status,
    welcome() {},
    chat() {},
    presence() {},
    typing() {},
    dm() {},
    error() {},
    outbox() {},
  });

  it("keeps backing off from a server that welcomes and then drops every connection", async () => {
    // Hardening finding 7: the backoff used to start over on every welcome,
    // so such a server got a reconnect every ~0.5 s from every tab.
    wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    wss.on("connection", (ws) => {
      ws.on("message", (data) => {
        const parsed = parseClientFrame(data.toString(), DEFAULT_LIMITS.maxFrameBytes);
        if (!parsed.ok || parsed.frame.type !== "join") return;
        const frame = parsed.frame;
        const welcome = { type: "welcome", room: "r", name: frame.name, users: [], history: [], seq: 0 };
        ws.send(JSON.stringify({ ...welcome, token: "tok", gap: false }));
        ws.close(1011);
      });
    });
    const server = wss;
    await new Promise((resolve) => server.once("listening", resolve));
    const port = (server.address() as AddressInfo).port;
    const delays: number[] = [];
    conn = new ChatConnection({
      url: `ws://127.0.0.1:${port}/chat/r`,
      name: "Ann",
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      on: quiet((state, { retryAt }) => {
        if (state === "reconnecting" && retryAt !== undefined) delays.push(retryAt - Date.now());
      }),
    });
    await expect.poll(() => delays.length, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    // Attempt n waits at least half of 500 ms × 2^n: 250, 500, 1000 ms.
    expect(delays[2]).toBeGreaterThanOrEqual(1000 - 50);
  });

  it("starts the backoff over once a connection has stayed up for stableMs", async () => {
    let connections = 0;
    wss = new WebSocketServer({ host: "127.0.0.1", port: 0 });
    wss.on("connection", (ws) => {
      connections++;
      // The first two connections fail at once; the third lives 150 ms,
      // longer than stableMs, before it drops too.
      const lifetime = connections === 3 ? 150 : 0;
      ws.on("message", (data) => {
        const parsed = parseClientFrame(data.toString(), DEFAULT_LIMITS.maxFrameBytes);
        if (!parsed.ok || parsed.frame.type !== "join") return;
        const frame = parsed.frame;
        const welcome = { type: "welcome", room: "r", name: frame.name, users: [], history: [], seq: 0 };
        ws.send(JSON.stringify({ ...welcome, token: "tok", gap: false }));
        setTimeout(() => ws.close(1011), lifetime);
      });
    });
    const server = wss;
    await new Promise((resolve) => server.once("listening", resolve));
    const port = (server.address() as AddressInfo).port;
    const delays: number[] = [];
    conn = new ChatConnection({
      url: `ws://127.0.0.1:${port}/chat/r`,
      name: "Ann",
      WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
      timing: { stableMs: 50 },
      on: quiet((state, { retryAt }) => {
        if (state === "reconnecting" && retryAt !== undefined) delays.push(retryAt - Date.now());
      }),
    });
    await expect.poll(() => delays.length, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    // Attempts 0 and 1 (≥ 250 and ≥ 500 ms), then a fresh attempt 0 (≤ 500 ms).
    expect(delays[1]).toBeGreaterThanOrEqual(500 - 50);
    expect(delays[2]).toBeLessThanOrEqual(500 + 50);
  });
});
