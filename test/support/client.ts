/**
 * A protocol client for tests, over a real WebSocket (the `ws` package).
 * Frames land in an inbox; `next(type)` takes the first frame of a type and
 * leaves the rest, and `sync()` returns everything that arrived before a
 * round trip through the room, which is how a test proves that nothing
 * (else) was sent.
 */

import { afterEach } from "vitest";
import WebSocket from "ws";
import {
  parseServerFrame,
  type ServerFrame,
  type ServerFrameOf,
  type WelcomeFrame,
} from "../../src/shared/server-frames";

const TIMEOUT_MS = 5000;
// Not the exact auto-response text, so the room object itself answers it and
// the pong comes back in order behind every frame the room sent before.
const SYNC_PING = '{"type":"ping","sync":true}';

export interface Closed {
  code: number;
  reason: string;
}

export class ChatClient {
  readonly inbox: ServerFrame[] = [];
  readonly closed: Promise<Closed>;
  #waiters: Array<() => void> = [];
  // Pongs are indistinguishable, so sync() waits until every ping sent so
  // far has been answered, not merely for "a" pong.
  #pingsSent = 0;
  #pongsSeen = 0;

  private constructor(readonly ws: WebSocket) {
    ws.on("message", (data, isBinary) => {
      if (isBinary) throw new Error("server sent a binary frame");
      // Checked against the protocol's schemas, as the browser client does.
      const frame = parseServerFrame(data.toString());
      if (!frame) throw new Error(`server sent a frame outside the protocol: ${data.toString()}`);
      if (frame.type === "pong") this.#pongsSeen++;
      this.inbox.push(frame);
      this.#wake();
    });
    this.closed = new Promise((resolve) => {
      ws.on("close", (code, reason) => {
        resolve({ code, reason: reason.toString() });
        this.#wake();
      });
    });
  }

  /**
   * @param from a loopback address to connect from (127.0.0.2, …): the
   *   runtime sees it as the client's address, so a test can play several
   *   people behind different addresses (protocol §2.4).
   * @param compress offer permessage-deflate, as browsers do; an attacker
   *   who wants the room to buffer the most bytes does not.
   */
  static connect(
    url: string,
    headers: Record<string, string> = {},
    from?: string,
    compress = true,
  ): Promise<ChatClient> {
    return new Promise((resolve, reject) => {
      const ws = new WebSocket(url, { headers, perMessageDeflate: compress, ...(from ? { localAddress: from } : {}) });
      const client = new ChatClient(ws);
      live.add(client);
      void client.closed.then(() => live.delete(client));
      ws.once("open", () => resolve(client));
      ws.once("unexpected-response", (_req, res) => {
        reject(new Error(`handshake refused: ${res.statusCode}`));
        res.resume();
      });
      ws.once("error", reject);
    });
  }

  send(frame: Record<string, unknown>): void {
    this.sendRaw(JSON.stringify(frame));
  }

  sendRaw(data: string | Buffer): void {
    if (typeof data === "string" && isPing(data)) this.#pingsSent++;
    this.ws.send(data, { binary: typeof data !== "string" });
  }

  /** Takes the first frame of `type` from the inbox, waiting for one if needed. */
  async next<T extends ServerFrame["type"]>(type: T, timeoutMs = TIMEOUT_MS): Promise<ServerFrameOf<T>> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const i = this.inbox.findIndex((f) => f.type === type);
      const frame = this.inbox[i];
      if (isOfType(frame, type)) {
        this.inbox.splice(i, 1);
        return frame;
      }
      if (this.ws.readyState === WebSocket.CLOSED) throw new Error(`closed while waiting for ${type}`);
      await this.#wait(deadline, `no ${type} frame within ${timeoutMs} ms; inbox: ${JSON.stringify(this.inbox)}`);
    }
  }

  /** Everything the room sent before answering a ping sent now; empties the inbox. */
  async sync(timeoutMs = TIMEOUT_MS): Promise<ServerFrame[]> {
    this.sendRaw(SYNC_PING);
    const deadline = Date.now() + timeoutMs;
    while (this.#pongsSeen < this.#pingsSent) {
      await this.#wait(deadline, "no pong for a sync ping");
    }
    // Drop one pong, the sync's own; any others answer the test's pings.
    const all = this.inbox.splice(0);
    all.splice(
      all.findLastIndex((f) => f.type === "pong"),
      1,
    );
    return all;
  }

  /** Sends a join and returns what it earned: the welcome or the error frame, whichever comes first. */
  async attempt(frame: Record<string, unknown>): Promise<ServerFrameOf<"welcome"> | ServerFrameOf<"error">> {
    this.send({ type: "join", ...frame });
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const i = this.inbox.findIndex((f) => f.type === "welcome" || f.type === "error");
      const found = this.inbox[i];
      if (isOfType(found, "welcome") || isOfType(found, "error")) {
        this.inbox.splice(i, 1);
        return found;
      }
      await this.#wait(deadline, `no answer to a join; inbox: ${JSON.stringify(this.inbox)}`);
    }
  }

  /** Joins with an identity token (§5.2) and returns the welcome; fails the test with the error frame otherwise. */
  async signIn(auth: string, extra: Record<string, unknown> = {}): Promise<WelcomeFrame> {
    const answer = await this.attempt({ auth, ...extra });
    if (answer.type === "error") throw new Error(`sign-in refused: ${JSON.stringify(answer)}`);
    return answer;
  }

  /** Joins and returns the welcome; fails the test with the error frame otherwise. */
  async join(name: string, extra: Record<string, unknown> = {}): Promise<WelcomeFrame> {
    this.send({ type: "join", name, ...extra });
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const error = this.inbox.find((f) => f.type === "error");
      if (error) throw new Error(`join ${name} refused: ${JSON.stringify(error)}`);
      const i = this.inbox.findIndex((f) => f.type === "welcome");
      const welcome = this.inbox[i];
      if (isOfType(welcome, "welcome")) {
        this.inbox.splice(i, 1);
        return welcome;
      }
      await this.#wait(deadline, `no welcome for ${name}`);
    }
  }

  /**
   * A clean close (1000) by default: the member leaves at once. `null`
   * sends a close frame without a code (1005), which is not a clean close
   * and starts the presence grace (§5.4), like any other code.
   */
  close(code: number | null = 1000): Promise<Closed> {
    if (code === null) this.ws.close();
    else this.ws.close(code);
    return this.closed;
  }

  /** Drops the TCP connection without a close frame, like a phone losing signal. */
  terminate(): void {
    this.ws.terminate();
  }

  #wait(deadline: number, message: string): Promise<void> {
    const left = deadline - Date.now();
    if (left <= 0) return Promise.reject(new Error(message));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(message)), left);
      this.#waiters.push(() => {
        clearTimeout(timer);
        resolve();
      });
    });
  }

  #wake(): void {
    const waiters = this.#waiters;
    this.#waiters = [];
    for (const w of waiters) w();
  }
}

function isOfType<T extends ServerFrame["type"]>(frame: ServerFrame | undefined, type: T): frame is ServerFrameOf<T> {
  return frame?.type === type;
}

/**
 * Every client still open when a test ends is dropped: a test that fails
 * half-way leaks no socket (and no room member) into the next one.
 */
const live = new Set<ChatClient>();
afterEach(() => {
  for (const client of live) client.terminate();
  live.clear();
});

function isPing(text: string): boolean {
  try {
    const value: unknown = JSON.parse(text);
    return typeof value === "object" && value !== null && "type" in value && value.type === "ping";
  } catch {
    return false;
  }
}

/** Unique room names per test, so tests sharing a server never meet. */
let roomCounter = 0;
export function freshRoom(prefix = "t"): string {
  roomCounter++;
  return `${prefix}-${process.pid}-${Date.now().toString(36)}-${roomCounter}`;
}

/** Two clients, Ann and Ben, joined to a fresh room, with Ben's `joined` already taken from Ann's inbox. */
export async function joinedPair(
  wsUrl: (room: string) => string,
): Promise<{ room: string; ann: ChatClient; ben: ChatClient }> {
  const room = freshRoom();
  const [ann, ben] = await Promise.all([ChatClient.connect(wsUrl(room)), ChatClient.connect(wsUrl(room))]);
  await ann.join("Ann");
  await ben.join("Ben");
  await ann.next("joined");
  return { room, ann, ben };
}
