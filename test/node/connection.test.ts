/**
 * The browser client's session logic (src/client/connection.ts) in Node, with
 * the `ws` package as the WebSocket: the backoff schedule, and a connection
 * that stops answering, which only the heartbeat can notice. A scripted
 * server stands in for the room so it can play dead on cue.
 */
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import WebSocket, { WebSocketServer } from "ws";
import {
  backoffMs,
  ChatConnection,
  type ConnectionOptions,
  type Handlers,
  UNREACHABLE_AFTER,
} from "../../src/client/connection";
import { DEFAULT_LIMITS } from "../../src/shared/limits";
import {
  type ClientFrame,
  type ClientFrameOf,
  PING_TEXT,
  PONG_TEXT,
  parseClientFrame,
} from "../../src/shared/protocol";
import { encodeChat, encodeHistory, encodeWelcome, errorFrame } from "../../src/shared/server-frames";
import { handlers } from "../support/handlers";

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

// ---------------------------------------------------------------------------
// A scripted room and a session connected to it
// ---------------------------------------------------------------------------

interface Script {
  /** A join arrived on the nth connection (1-based); the welcome has been sent. */
  joined?(ws: WebSocket, frame: ClientFrameOf<"join">, connection: number): void;
  /** Whether to answer a ping. */
  answerPings?(): boolean;
  /** Any other frame the session sent. */
  received?(ws: WebSocket, frame: ClientFrame): void;
}

let wss: WebSocketServer | undefined;
let conn: ChatConnection | undefined;
afterEach(() => {
  conn?.leave();
  wss?.close();
});

/** Starts a room that welcomes every join (seq 7, token "tok") and follows the script; returns its URL. */
async function scriptedRoom(script: Script): Promise<string> {
  let connections = 0;
  const server = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  wss = server;
  server.on("connection", (ws) => {
    const connection = ++connections;
    ws.on("message", (data) => {
      const text = data.toString();
      if (text === PING_TEXT) {
        if (script.answerPings?.() ?? true) ws.send(PONG_TEXT);
        return;
      }
      const parsed = parseClientFrame(text, DEFAULT_LIMITS.maxFrameBytes);
      if (parsed.ok && parsed.frame.type !== "join") script.received?.(ws, parsed.frame);
      if (!parsed.ok || parsed.frame.type !== "join") return;
      const name = parsed.frame.name ?? "anonymous";
      ws.send(
        encodeWelcome(
          {
            type: "welcome",
            room: "r",
            name,
            users: [name],
            members: [{ name }],
            role: "member",
            settings: { slowmode: 0 },
            seq: 7,
            token: "tok",
            gap: false,
          },
          [],
        ),
      );
      script.joined?.(ws, parsed.frame, connection);
    });
  });
  await new Promise((resolve) => server.once("listening", resolve));
  const port = (server.address() as AddressInfo).port;
  return `ws://127.0.0.1:${port}/chat/r`;
}

function connect(
  url: string,
  status: Handlers["status"],
  timing?: ConnectionOptions["timing"],
  getToken?: ConnectionOptions["getToken"],
  on: Partial<Handlers> = {},
): ChatConnection {
  conn = new ChatConnection({
    url,
    name: "Ann",
    getToken,
    WebSocket: WebSocket as unknown as typeof globalThis.WebSocket,
    ...(timing ? { timing } : {}),
    on: handlers({ status, ...on }),
  });
  return conn;
}

/** The delays of the reconnects a session schedules, in order. */
function delays(): { record: Handlers["status"]; list: number[] } {
  const list: number[] = [];
  return {
    list,
    record: (state, { retryAt }) => {
      if (state === "reconnecting" && retryAt !== undefined) list.push(retryAt - Date.now());
    },
  };
}

describe("the heartbeat", () => {
  it("pings with the exact auto-response text and replaces a socket that stops answering", async () => {
    const joins: Array<ClientFrameOf<"join">> = [];
    let pings = 0;
    let answer = true;
    const url = await scriptedRoom({
      joined: (_ws, frame) => joins.push(frame),
      answerPings: () => {
        pings++;
        return answer;
      },
    });
    const states: string[] = [];
    connect(url, (state) => states.push(state), { heartbeatMs: 40, pongTimeoutMs: 60 });
    // Answered pings keep it live.
    await expect.poll(() => pings).toBeGreaterThanOrEqual(3);
    expect(states).toEqual(["connecting", "live"]);

    // Silence: the heartbeat gives up on the socket and joins again, with since and token.
    answer = false;
    await expect.poll(() => joins.length, { timeout: 5000 }).toBe(2);
    expect(states).toContain("reconnecting");
    expect(joins[1]).toEqual({ type: "join", name: "Ann", protocol: 3, since: 7, token: "tok" });
  });
});

describe("reconnecting", () => {
  it("keeps backing off from a server that welcomes and then drops every connection", async () => {
    // The backoff once started over on every welcome, so such a server got
    // a reconnect every ~0.5 s from every tab.
    const url = await scriptedRoom({ joined: (ws) => ws.close(1011) });
    const scheduled = delays();
    connect(url, scheduled.record);
    // Past UNREACHABLE_AFTER: a server that was reached is retried for as long as it takes.
    await expect.poll(() => scheduled.list.length, { timeout: 8000 }).toBeGreaterThanOrEqual(UNREACHABLE_AFTER);
    // Attempt n waits at least half of 500 ms × 2^n: 250, 500, 1000 ms.
    expect(scheduled.list[2]).toBeGreaterThanOrEqual(1000 - 50);
  });

  it("gives up as unreachable when no socket ever opens (a refused origin looks like that to a browser)", async () => {
    let upgrades = 0;
    const server = new WebSocketServer({
      host: "127.0.0.1",
      port: 0,
      // §1's answer to a foreign origin: 403 to the upgrade.
      verifyClient: (_info, done) => {
        upgrades++;
        done(false, 403);
      },
    });
    wss = server;
    await new Promise((resolve) => server.once("listening", resolve));
    const { port } = server.address() as AddressInfo;
    const ended: Array<string | undefined> = [];
    connect(`ws://127.0.0.1:${port}/chat/r`, (state, { reason }) => {
      if (state === "ended") ended.push(reason);
    });
    await expect.poll(() => ended, { timeout: 8000 }).toEqual(["unreachable"]);
    expect(upgrades).toBe(UNREACHABLE_AFTER);
  });

  it("starts the backoff over once a connection has stayed up for stableMs", async () => {
    // The first two connections fail at once; the third lives 150 ms,
    // longer than stableMs, before it drops too.
    const url = await scriptedRoom({
      joined: (ws, _frame, n) => setTimeout(() => ws.close(1011), n === 3 ? 150 : 0),
    });
    const scheduled = delays();
    connect(url, scheduled.record, { stableMs: 50 });
    await expect.poll(() => scheduled.list.length, { timeout: 5000 }).toBeGreaterThanOrEqual(3);
    // Attempts 0 and 1 (≥ 250 and ≥ 500 ms), then a fresh attempt 0 (≤ 500 ms).
    expect(scheduled.list[1]).toBeGreaterThanOrEqual(500 - 50);
    expect(scheduled.list[2]).toBeLessThanOrEqual(500 + 50);
  });
});

describe("signing in (§5)", () => {
  it("asks for a fresh identity token before every join and sends it as `auth`, not the guest token", async () => {
    const joins: Array<ClientFrameOf<"join">> = [];
    const url = await scriptedRoom({
      joined: (ws, frame, connection) => {
        joins.push(frame);
        if (connection === 1) ws.terminate();
      },
    });
    let issued = 0;
    const states: string[] = [];
    connect(
      url,
      (state) => states.push(state),
      { stableMs: 10 },
      async () => `token-${++issued}`,
    );
    await vi.waitFor(() => expect(joins.length).toBeGreaterThanOrEqual(2), { timeout: 5000 });
    expect(joins.map((j) => [j.auth, j.token])).toEqual([
      ["token-1", undefined],
      ["token-2", undefined],
    ]);
  });

  it("retries later, and never joins as a guest, when the token source fails", async () => {
    const joins: Array<ClientFrameOf<"join">> = [];
    const url = await scriptedRoom({ joined: (_ws, frame) => joins.push(frame) });
    let calls = 0;
    const states: string[] = [];
    connect(
      url,
      (state) => states.push(state),
      undefined,
      async () => {
        calls++;
        if (calls === 1) throw new Error("the host site is down");
        return "token-ok";
      },
    );
    await vi.waitFor(() => expect(joins.length).toBeGreaterThanOrEqual(1), { timeout: 5000 });
    expect(joins.map((j) => j.auth)).toEqual(["token-ok"]);
    expect(states).toContain("reconnecting");
  });
});

describe("reads (§8)", () => {
  it("sends history and search one at a time, never beside a chat in flight, and gives each error to the read", async () => {
    const got: string[] = [];
    const url = await scriptedRoom({
      received: (ws, frame) => {
        got.push(frame.type);
        // Each answer comes a little later, so anything sent meanwhile would show.
        setTimeout(() => {
          if (frame.type === "history") ws.send(encodeHistory("r", [], false));
          else if (frame.type === "search") ws.send(errorFrame("rate_limited"));
          else if (frame.type === "chat") {
            const chat = { room: "r", seq: 8, v: 8, name: "Ann", text: frame.text, ts: 1, id: frame.id };
            ws.send(encodeChat(chat));
          }
        }, 30);
      },
    });
    const answers: string[] = [];
    const live = new Promise<void>((resolve) => {
      connect(url, (state) => state === "live" && resolve(), undefined, undefined, {
        read: (frame) => answers.push(frame.type),
        error: (error, during) => answers.push(`${error.code} during ${during}`),
        chat: (chat) => answers.push(`chat ${chat.text}`),
      });
    });
    await live;
    const session = conn;
    if (!session) throw new Error("no session");
    expect(session.read({ type: "history" })).toBe(true);
    session.chat("hello");
    expect(session.read({ type: "search", q: "x" })).toBe(true);
    await expect.poll(() => answers.length, { timeout: 5000 }).toBe(3);
    expect(got).toEqual(["history", "search", "chat"]);
    expect(answers).toEqual(["history", "rate_limited during search", "chat hello"]);
  });
});
