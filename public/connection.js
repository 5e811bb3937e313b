// @ts-check
/**
 * One person's session in one room, kept alive across dropped connections.
 * No DOM here: the page (app.js) renders what this reports, and the tests
 * drive it in Node with the `ws` package as the WebSocket.
 *
 * What it guarantees, and how (docs/protocol.md):
 * - Nothing lost, nothing twice: every reconnect joins with `since` = the
 *   last seq shown and the reclaim `token`, and a chat frame is shown only
 *   if its seq is newer than the last one shown.
 * - Sending while offline: chats wait in a bounded outbox, each with a
 *   client `id`. One is in flight at a time, so an `error` frame always
 *   belongs to the message in flight, and a resend after a reconnect is
 *   deduplicated by the room (idempotent `id`).
 * - A dead connection is noticed: a ping every 25 s must be answered
 *   within 10 s, or the socket is dropped and replaced.
 * - Reconnects back off exponentially with jitter, so a restarted server
 *   is not hit by every client in the same millisecond. The backoff starts
 *   over only once a connection has stayed up for STABLE_MS: a server that
 *   welcomes and then drops every connection is not hammered in a loop.
 *
 * @typedef {import("../src/protocol").ServerFrame} ServerFrame
 * @typedef {import("../src/protocol").ChatFrame} ChatFrame
 * @typedef {import("../src/protocol").WelcomeFrame} WelcomeFrame
 * @typedef {import("../src/protocol").ServerFrameOf<"dm">} DmFrame
 * @typedef {import("../src/protocol").ServerFrameOf<"error">} ErrorFrame
 * @typedef {import("../src/protocol").ServerFrameOf<"joined" | "left">} PresenceFrame
 *
 * @typedef {"connecting" | "live" | "reconnecting" | "offline" | "ended"} State
 * @typedef {{ id: string, text: string }} Pending
 *
 * @typedef {object} Handlers
 * @property {(state: State, detail: { retryAt?: number, reason?: string }) => void} status
 * @property {(welcome: WelcomeFrame, fresh: ChatFrame[], rejoin: boolean) => void} welcome
 * @property {(chat: ChatFrame) => void} chat
 * @property {(frame: PresenceFrame) => void} presence
 * @property {(name: string) => void} typing
 * @property {(dm: DmFrame) => void} dm
 * @property {(error: ErrorFrame, during: "join" | "chat" | "other") => void} error
 * @property {(pending: readonly Pending[]) => void} outbox
 */

export const PING = '{"type":"ping"}';
export const OUTBOX_LIMIT = 50;
export const HEARTBEAT_MS = 25_000;
export const PONG_TIMEOUT_MS = 10_000;
/** A connection live this long counts as healthy again, and the backoff starts over. */
export const STABLE_MS = 10_000;
/** Protocol §2.2 allows ids of 1 to 64 characters; a UUID is 36. */
const newId = () => crypto.randomUUID();

/**
 * Delay before reconnect attempt `attempt` (0-based): doubling from 500 ms up
 * to 30 s, and a random point in the upper half of that ("equal jitter"), so
 * clients spread out but none retries instantly forever.
 * @param {number} attempt
 * @param {() => number} [random]
 */
export function backoffMs(attempt, random = Math.random) {
  const ceiling = Math.min(30_000, 500 * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}

export class ChatConnection {
  /** @type {State} */ state = "connecting";
  /** Latest seq shown; the `since` of the next join. */
  lastSeq = 0;
  /** @type {string | undefined} */ token;
  /** @type {Pending[]} */ #outbox = [];
  /** The outbox head has been sent on the current socket. */
  #inFlight = false;
  /** @type {WebSocket | undefined} */ #ws;
  #joined = false;
  #everJoined = false;
  #attempt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #retryTimer;
  /** @type {ReturnType<typeof setInterval> | undefined} */ #heartbeat;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #pongDeadline;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #rateRetry;
  /** @type {ReturnType<typeof setTimeout> | undefined} */ #stableTimer;

  /**
   * @param {object} options
   * @param {string} options.url   ws(s)://host/chat/room
   * @param {string} options.name
   * @param {string} [options.token]   from an earlier welcome (a page reload)
   * @param {Handlers} options.on
   * @param {typeof WebSocket} [options.WebSocket]
   * @param {{ heartbeatMs?: number, pongTimeoutMs?: number, stableMs?: number }} [options.timing]  shorter in tests
   */
  constructor({ url, name, token, on, WebSocket: Socket = globalThis.WebSocket, timing = {} }) {
    this.heartbeatMs = timing.heartbeatMs ?? HEARTBEAT_MS;
    this.pongTimeoutMs = timing.pongTimeoutMs ?? PONG_TIMEOUT_MS;
    this.stableMs = timing.stableMs ?? STABLE_MS;
    this.url = url;
    this.name = name;
    this.token = token;
    this.on = on;
    this.Socket = Socket;
    this.#open();
  }

  /** Queues a chat; false when the outbox is full. */
  chat(/** @type {string} */ text) {
    if (this.#outbox.length >= OUTBOX_LIMIT) return false;
    this.#outbox.push({ id: newId(), text });
    this.on.outbox(this.#outbox);
    this.#flush();
    return true;
  }

  /** Sends a dm now; false when not live (a dm has no id, so it is never queued or resent). */
  dm(/** @type {string} */ to, /** @type {string} */ text) {
    return this.#send({ type: "dm", to, text });
  }

  typing() {
    this.#send({ type: "typing" });
  }

  /** Gives the name back and stops for good. */
  leave() {
    this.#send({ type: "leave" });
    this.#end("left");
  }

  /** Reconnects now instead of waiting out the backoff (e.g. the browser came back online). */
  retryNow() {
    if (this.state !== "reconnecting" && this.state !== "offline") return;
    clearTimeout(this.#retryTimer);
    this.#open();
  }

  /** The browser says the network is gone: stop waiting on the socket. */
  wentOffline() {
    if (this.state === "ended") return;
    this.#drop();
    clearTimeout(this.#retryTimer);
    this.#setState("offline", {});
  }

  // -------------------------------------------------------------------------

  #open() {
    this.#setState(this.#everJoined ? "reconnecting" : "connecting", {});
    const ws = new this.Socket(this.url);
    this.#ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.#ws) return;
      /** @type {Record<string, unknown>} */
      const join = { type: "join", name: this.name };
      if (this.#everJoined) join.since = this.lastSeq;
      if (this.token) join.token = this.token;
      ws.send(JSON.stringify(join));
      this.#startHeartbeat(ws);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.#ws) return;
      this.#alive();
      if (typeof event.data === "string") this.#handle(JSON.parse(event.data));
    });
    // A refused or failed connection reports `error`, then `close`; the
    // close does the work. (Without a listener, Node's `ws` throws the error
    // and never emits the close, which left a test client stuck.)
    ws.addEventListener("error", () => {});
    ws.addEventListener("close", (event) => {
      if (ws !== this.#ws) return;
      this.#drop();
      if (event.code === 4001) this.#end("replaced");
      else this.#scheduleRetry();
    });
  }

  /** @param {ServerFrame} frame */
  #handle(frame) {
    switch (frame.type) {
      case "welcome":
        return this.#welcome(frame);
      case "chat":
        return this.#chat(frame);
      case "joined":
      case "left":
        return this.on.presence(frame);
      case "typing":
        return this.on.typing(frame.name);
      case "dm":
        return this.on.dm(frame);
      case "error":
        return this.#error(frame);
      case "pong":
        return;
    }
  }

  /** @param {WelcomeFrame} welcome */
  #welcome(welcome) {
    const rejoin = this.#everJoined;
    this.#joined = true;
    this.#everJoined = true;
    clearTimeout(this.#stableTimer);
    this.#stableTimer = setTimeout(() => {
      this.#attempt = 0;
    }, this.stableMs);
    this.token = welcome.token;
    this.name = welcome.name;
    // On a rejoin the history holds exactly what was missed (seq > since).
    const fresh = welcome.history.filter((m) => m.seq > this.lastSeq);
    for (const m of fresh) this.#settle(m);
    this.lastSeq = Math.max(this.lastSeq, welcome.seq);
    this.on.welcome(welcome, fresh, rejoin);
    this.#setState("live", {});
    this.#inFlight = false;
    this.#flush();
  }

  /** @param {ChatFrame} chat */
  #chat(chat) {
    const mine = this.#settle(chat);
    if (chat.seq > this.lastSeq) {
      this.lastSeq = chat.seq;
      this.on.chat(chat);
    }
    if (mine) {
      this.#inFlight = false;
      this.#flush();
    }
  }

  /**
   * Removes the outbox entry this chat confirms, if any. True when it was
   * the one in flight.
   * @param {ChatFrame} chat
   */
  #settle(chat) {
    if (chat.id === undefined || chat.name !== this.name) return false;
    const i = this.#outbox.findIndex((p) => p.id === chat.id);
    if (i < 0) return false;
    this.#outbox.splice(i, 1);
    this.on.outbox(this.#outbox);
    return i === 0;
  }

  /** @param {ErrorFrame} error */
  #error(error) {
    if (!this.#joined) {
      // name_taken, name_invalid, room_full: retrying the same join cannot
      // succeed, so the session ends and the person picks again.
      this.#end(error.code);
      this.on.error(error, "join");
      return;
    }
    // `replaced` comes right before the 4001 close, and belongs to no message.
    if (!this.#inFlight || error.code === "replaced") return this.on.error(error, "other");
    this.#inFlight = false;
    if (error.code === "rate_limited" || error.code === "internal_error") {
      // The head stays queued and goes again once a token has refilled (or
      // the fault has passed); its id makes the resend safe.
      this.on.error(error, "chat");
      clearTimeout(this.#rateRetry);
      this.#rateRetry = setTimeout(() => this.#flush(), 1000);
      return;
    }
    // too_long, bad_message, …: resending cannot help; drop it and go on.
    this.#outbox.shift();
    this.on.outbox(this.#outbox);
    this.on.error(error, "chat");
    this.#flush();
  }

  #flush() {
    const head = this.#outbox[0];
    if (!head || this.#inFlight || !this.#joined) return;
    if (this.#send({ type: "chat", text: head.text, id: head.id })) this.#inFlight = true;
  }

  /** @param {Record<string, unknown>} frame */
  #send(frame) {
    const ws = this.#ws;
    if (!ws || !this.#joined || ws.readyState !== ws.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  /** @param {WebSocket} ws */
  #startHeartbeat(ws) {
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      if (ws.readyState !== ws.OPEN) return;
      // The exact text the runtime answers itself: no wake-up of the room.
      ws.send(PING);
      this.#pongDeadline ??= setTimeout(() => {
        // Nothing came back: the connection is dead even if the browser has
        // not noticed (a sleeping laptop, a proxy that dropped it).
        this.#drop();
        this.#scheduleRetry();
      }, this.pongTimeoutMs);
    }, this.heartbeatMs);
  }

  #alive() {
    clearTimeout(this.#pongDeadline);
    this.#pongDeadline = undefined;
  }

  /** Forgets the current socket (closing it if need be); the outbox stays. */
  #drop() {
    const ws = this.#ws;
    this.#ws = undefined;
    this.#joined = false;
    this.#inFlight = false;
    clearInterval(this.#heartbeat);
    clearTimeout(this.#rateRetry);
    clearTimeout(this.#stableTimer);
    this.#alive();
    if (ws && ws.readyState !== ws.CLOSED) {
      try {
        ws.close(1000);
      } catch {
        // Closing a socket that is still connecting can throw in some engines.
      }
    }
  }

  #scheduleRetry() {
    if (this.state === "ended") return;
    const delay = backoffMs(this.#attempt++);
    const retryAt = Date.now() + delay;
    this.#setState("reconnecting", { retryAt });
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#open(), delay);
  }

  /** @param {string} reason */
  #end(reason) {
    this.#drop();
    clearTimeout(this.#retryTimer);
    this.#setState("ended", { reason });
  }

  /**
   * @param {State} state
   * @param {{ retryAt?: number, reason?: string }} detail
   */
  #setState(state, detail) {
    this.state = state;
    this.on.status(state, detail);
  }
}
