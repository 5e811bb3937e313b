/**
 * One person's connection in one room, kept alive across dropped connections.
 * No DOM here: the page (app.ts) renders what this reports, and the tests
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
 * - Edits, deletes and reactions (§7) go through the same outbox, so they
 *   too are sent one at a time and an error finds its cause. They are only
 *   taken while live (the page says so otherwise): an edit or delete left
 *   in flight by a dropped connection is sent again (both are idempotent),
 *   a reaction is not (a second toggle would undo the first), and the
 *   rejoin's history shows what the room has.
 * - A dead connection is noticed: a ping every 25 s must be answered
 *   within 10 s, or the socket is dropped and replaced.
 * - Signed in (§5): before every join it asks `getToken` for a fresh
 *   identity token, so a reconnect hours later still presents a valid one.
 * - Reconnects back off exponentially with jitter, so a restarted server
 *   is not hit by every client in the same millisecond. The backoff starts
 *   over only once a connection has stayed up for STABLE_MS: a server that
 *   welcomes and then drops every connection is not hammered in a loop.
 */

import type { ClientFrame, ModerationFrame } from "../shared/protocol";
import { CLOSE_KICKED, CLOSE_REPLACED, PING_TEXT } from "../shared/protocol";
import {
  type ChatFrame,
  parseServerFrame,
  type ServerFrame,
  type ServerFrameOf,
  type WelcomeFrame,
} from "../shared/server-frames";
import type { ConnectionOptions, ErrorFrame, Handlers, Pending, State } from "./connection-types";

export type { ConnectionOptions, Handlers, Pending, State } from "./connection-types";

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
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(30_000, 500 * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}

/** The frame a pending entry is sent as. */
function frameOf(p: Pending): ClientFrame {
  switch (p.kind) {
    case "chat":
      return { type: "chat", text: p.text, id: p.id, ...(p.replyTo === undefined ? {} : { replyTo: p.replyTo }) };
    case "edit":
      return { type: "edit", seq: p.seq, text: p.text };
    case "delete":
      return { type: "delete", seq: p.seq };
    case "react":
      return { type: "react", seq: p.seq, emoji: p.emoji };
  }
}

export class ChatConnection {
  state: State = "connecting";
  /** Latest seq shown; the `since` of the next join. */
  lastSeq = 0;
  token: string | undefined;
  name: string;
  readonly url: string;
  readonly on: Handlers;
  readonly heartbeatMs: number;
  readonly pongTimeoutMs: number;
  readonly stableMs: number;
  readonly #Socket: typeof WebSocket;
  readonly #getToken: (() => Promise<string | undefined>) | undefined;
  #outbox: Pending[] = [];
  /** The outbox head has been sent on the current socket. */
  #inFlight = false;
  /** The outbox head has been sent on some socket (maybe one that died since). */
  #headSent = false;
  #ws: WebSocket | undefined;
  #joined = false;
  #everJoined = false;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #pongDeadline: ReturnType<typeof setTimeout> | undefined;
  #rateRetry: ReturnType<typeof setTimeout> | undefined;
  #stableTimer: ReturnType<typeof setTimeout> | undefined;

  constructor({
    url,
    name,
    token,
    getToken,
    on,
    WebSocket: Socket = globalThis.WebSocket,
    timing = {},
  }: ConnectionOptions) {
    this.#getToken = getToken;
    this.heartbeatMs = timing.heartbeatMs ?? HEARTBEAT_MS;
    this.pongTimeoutMs = timing.pongTimeoutMs ?? PONG_TIMEOUT_MS;
    this.stableMs = timing.stableMs ?? STABLE_MS;
    this.url = url;
    this.name = name;
    this.token = token;
    this.on = on;
    this.#Socket = Socket;
    this.#open();
  }

  /** Queues a chat (answering `replyTo`, §7.2); false when the outbox is full. */
  chat(text: string, replyTo?: number): boolean {
    return this.#queue({ kind: "chat", id: newId(), text, ...(replyTo === undefined ? {} : { replyTo }) });
  }

  /** Edits, deletes and reactions (§7.2): only while live; false otherwise. */
  edit(seq: number, text: string): boolean {
    return this.state === "live" && this.#queue({ kind: "edit", id: newId(), seq, text });
  }

  remove(seq: number): boolean {
    return this.state === "live" && this.#queue({ kind: "delete", id: newId(), seq });
  }

  react(seq: number, emoji: string): boolean {
    return this.state === "live" && this.#queue({ kind: "react", id: newId(), seq, emoji });
  }

  /** Sends a dm now; false when not live (a dm has no id, so it is never queued or resent). */
  dm(to: string, text: string): boolean {
    return this.#send({ type: "dm", to, text });
  }

  typing(): void {
    this.#send({ type: "typing" });
  }

  /** Sends a moderation action (§6.2) now; false when not live. The room answers only a refusal. */
  moderate(frame: ModerationFrame): boolean {
    return this.#send(frame);
  }

  /** Gives the name back and stops for good. */
  leave(): void {
    this.#send({ type: "leave" });
    this.#end("left");
  }

  /** Reconnects now instead of waiting out the backoff (e.g. the browser came back online). */
  retryNow(): void {
    if (this.state !== "reconnecting" && this.state !== "offline") return;
    clearTimeout(this.#retryTimer);
    this.#open();
  }

  /** The browser says the network is gone: stop waiting on the socket. */
  wentOffline(): void {
    if (this.state === "ended") return;
    this.#drop();
    clearTimeout(this.#retryTimer);
    this.#setState("offline", {});
  }

  // -------------------------------------------------------------------------

  #open(): void {
    this.#setState(this.#everJoined ? "reconnecting" : "connecting", {});
    const ws = new this.#Socket(this.url);
    this.#ws = ws;
    ws.addEventListener("open", () => {
      if (ws !== this.#ws) return;
      void this.#join(ws);
      this.#startHeartbeat(ws);
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.#ws) return;
      this.#alive();
      // Checked against the protocol's schemas; anything else is ignored.
      const frame = typeof event.data === "string" ? parseServerFrame(event.data) : undefined;
      if (frame) this.#handle(frame);
    });
    // A refused or failed connection reports `error`, then `close`; the
    // close does the work. (Without a listener, Node's `ws` throws the error
    // and never emits the close, which left a test client stuck.)
    ws.addEventListener("error", () => {});
    ws.addEventListener("close", (event) => {
      if (ws !== this.#ws) return;
      this.#drop();
      if (event.code === CLOSE_REPLACED) this.#end("replaced");
      // Kicked or banned: coming straight back would only be refused (or kicked again).
      else if (event.code === CLOSE_KICKED) this.#end("kicked");
      else this.#scheduleRetry();
    });
  }

  async #join(ws: WebSocket): Promise<void> {
    let auth: string | undefined;
    if (this.#getToken) {
      try {
        auth = await this.#getToken();
      } catch {
        // The host site could not say who this is: try again later rather
        // than join as a guest under a name that may be someone else's.
        if (ws !== this.#ws) return;
        this.#drop();
        this.#scheduleRetry();
        return;
      }
    }
    if (ws !== this.#ws || ws.readyState !== ws.OPEN) return;
    const join: ClientFrame = { type: "join", name: this.name };
    if (auth !== undefined) join.auth = auth;
    if (this.#everJoined) join.since = this.lastSeq;
    if (this.token && auth === undefined) join.token = this.token;
    ws.send(JSON.stringify(join));
  }

  #handle(frame: ServerFrame): void {
    switch (frame.type) {
      case "welcome":
        this.#welcome(frame);
        break;
      case "chat":
        this.#chat(frame);
        break;
      case "update":
        this.lastSeq = Math.max(this.lastSeq, frame.seq);
        this.on.update(frame);
        if (this.#confirms(frame)) this.#settleHead();
        break;
      case "joined":
      case "left":
        this.on.presence(frame);
        break;
      case "typing":
        this.on.typing(frame);
        break;
      case "dm":
        this.on.dm(frame);
        break;
      case "error":
        this.#error(frame);
        break;
      case "moderation":
        this.on.moderation(frame);
        break;
      case "pong":
        break;
    }
  }

  #welcome(welcome: WelcomeFrame): void {
    const rejoin = this.#everJoined;
    this.#joined = true;
    this.#everJoined = true;
    clearTimeout(this.#stableTimer);
    this.#stableTimer = setTimeout(() => {
      this.#attempt = 0;
    }, this.stableMs);
    this.token = welcome.token;
    this.name = welcome.name;
    // On a rejoin the history holds exactly what was missed: new messages
    // and those changed meanwhile, each in its latest state (§7.4).
    for (const m of welcome.history) this.#settle(m);
    this.lastSeq = Math.max(this.lastSeq, welcome.seq);
    // A reaction sent on the dead connection is not sent again: the
    // history above shows whether it arrived.
    if (this.#headSent && this.#outbox[0]?.kind === "react") this.#shift();
    this.on.welcome(welcome, welcome.history, rejoin);
    this.#setState("live", {});
    this.#inFlight = false;
    this.#flush();
  }

  #chat(chat: ChatFrame): void {
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

  /** Removes the outbox entry this chat confirms, if any. True when it was the one in flight. */
  #settle(chat: ChatFrame): boolean {
    if (chat.id === undefined || chat.name !== this.name) return false;
    const i = this.#outbox.findIndex((p) => p.kind === "chat" && p.id === chat.id);
    if (i < 0) return false;
    if (i === 0) this.#headSent = false;
    this.#outbox.splice(i, 1);
    this.on.outbox(this.#outbox);
    return i === 0;
  }

  /** Whether an update is the room's answer to the change in flight. */
  #confirms(update: ServerFrameOf<"update">): boolean {
    const head = this.#outbox[0];
    if (!this.#inFlight || !head || head.kind === "chat" || head.seq !== update.target) return false;
    if (head.kind === "edit") return update.text === head.text;
    if (head.kind === "delete") return update.deleted === true;
    return update.reactions !== undefined;
  }

  #settleHead(): void {
    this.#shift();
    this.#inFlight = false;
    this.#flush();
  }

  /** Drops the outbox head: confirmed, refused for good, or not to be sent again. */
  #shift(): void {
    this.#outbox.shift();
    this.#headSent = false;
    this.on.outbox(this.#outbox);
  }

  #queue(pending: Pending): boolean {
    if (this.#outbox.length >= OUTBOX_LIMIT) return false;
    this.#outbox.push(pending);
    this.on.outbox(this.#outbox);
    this.#flush();
    return true;
  }

  #error(error: ErrorFrame): void {
    if (!this.#joined) {
      // name_taken, name_invalid, room_full, auth_invalid, forbidden, …:
      // retrying the same join cannot succeed, so the connection ends and the
      // person picks again (or signs in again).
      this.#end(error.code);
      this.on.error(error, "join");
      return;
    }
    // `replaced` comes right before the CLOSE_REPLACED close, and belongs to no message.
    if (!this.#inFlight || error.code === "replaced") {
      this.on.error(error, "other");
      return;
    }
    this.#inFlight = false;
    const head = this.#outbox[0];
    const during = head?.kind ?? "other";
    const retryable = error.code === "rate_limited" || error.code === "internal_error" || error.code === "slow_mode";
    // A reaction is a toggle: sent twice it undoes itself, so it is never resent.
    if (retryable && head?.kind !== "react") {
      // The head stays queued and goes again once a token has refilled,
      // the slow mode interval has passed, or the fault is over; its id
      // (or, for an edit or delete, the change itself) makes the resend safe.
      this.on.error(error, during);
      clearTimeout(this.#rateRetry);
      this.#rateRetry = setTimeout(() => this.#flush(), error.retry_after ?? 1000);
      return;
    }
    // too_long, not_found, forbidden, …: resending cannot help; drop it and go on.
    this.#shift();
    this.on.error(error, during);
    this.#flush();
  }

  #flush(): void {
    const head = this.#outbox[0];
    if (!head || this.#inFlight || !this.#joined) return;
    if (this.#send(frameOf(head))) {
      this.#inFlight = true;
      this.#headSent = true;
    }
  }

  #send(frame: ClientFrame): boolean {
    const ws = this.#ws;
    if (!ws || !this.#joined || ws.readyState !== ws.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  #startHeartbeat(ws: WebSocket): void {
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      if (ws.readyState !== ws.OPEN) return;
      // The exact text the runtime answers itself: no wake-up of the room.
      ws.send(PING_TEXT);
      this.#pongDeadline ??= setTimeout(() => {
        // Nothing came back: the connection is dead even if the browser has
        // not noticed (a sleeping laptop, a proxy that dropped it).
        this.#drop();
        this.#scheduleRetry();
      }, this.pongTimeoutMs);
    }, this.heartbeatMs);
  }

  #alive(): void {
    clearTimeout(this.#pongDeadline);
    this.#pongDeadline = undefined;
  }

  /** Forgets the current socket (closing it if need be); the outbox stays. */
  #drop(): void {
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

  #scheduleRetry(): void {
    if (this.state === "ended") return;
    const delay = backoffMs(this.#attempt++);
    const retryAt = Date.now() + delay;
    this.#setState("reconnecting", { retryAt });
    clearTimeout(this.#retryTimer);
    this.#retryTimer = setTimeout(() => this.#open(), delay);
  }

  #end(reason: string): void {
    this.#drop();
    clearTimeout(this.#retryTimer);
    this.#setState("ended", { reason });
  }

  #setState(state: State, detail: { retryAt?: number; reason?: string }): void {
    this.state = state;
    this.on.status(state, detail);
  }
}
