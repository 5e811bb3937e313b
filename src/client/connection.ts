/**
 * One person's connection to one room, kept alive across dropped sockets.
 * No DOM here: the page (app.ts) renders what this reports, and the tests
 * drive it in Node with the `ws` package as the WebSocket.
 *
 * What it guarantees, and where (docs/protocol.md):
 * - Nothing lost, nothing twice: every reconnect joins with `since` = the
 *   last seq shown and the reclaim `token`, and a chat frame is shown only
 *   if its seq is newer than the last one shown.
 * - Chats, edits, deletes and reactions wait in the outbox (outbox.ts), one
 *   in flight at a time, so an `error` always finds its cause and a resend
 *   is deduplicated by the room. Changes are only taken while live.
 * - A dead socket is noticed by the heartbeat, and reconnects back off with
 *   jitter, starting over only after STABLE_MS of health (liveness.ts).
 * - Signed in (§5): before every join it asks `getToken` for a fresh
 *   identity token, so a reconnect hours later still presents a valid one.
 */

import type { ClientFrame, ErrorCode, ModerationFrame } from "../shared/protocol";
import { CLOSE_KICKED, CLOSE_REPLACED } from "../shared/protocol";
import { type ChatFrame, parseServerFrame, type ServerFrame, type WelcomeFrame } from "../shared/server-frames";
import type { ConnectionOptions, ErrorFrame, Handlers, Pending, ReadFrame, State } from "./connection-types";
import { backoffMs, HEARTBEAT_MS, Heartbeat, PONG_TIMEOUT_MS, STABLE_MS } from "./liveness";
import { Outbox } from "./outbox";

export type { ConnectionOptions, Handlers, Pending, State } from "./connection-types";
export { backoffMs, HEARTBEAT_MS, PONG_TIMEOUT_MS, STABLE_MS } from "./liveness";
export { OUTBOX_LIMIT } from "./outbox";

/** Protocol §2.2 allows ids of 1 to 64 characters; a UUID is 36. */
const newId = () => crypto.randomUUID();
/** Errors the room sends of its own accord, never as the answer to a read. */
const UNASKED: ReadonlySet<ErrorCode> = new Set(["replaced", "kicked", "banned"]);
/** Reads waiting their turn (the page asks for at most a page and a search at once). */
const MAX_QUEUED_READS = 4;
/**
 * Sockets that never open before the connection gives up (about 3 s of
 * backoff). A browser cannot tell a refused origin (§1: a 403 to the
 * upgrade) from a server that is down: both are a socket that closes
 * without opening. A chat that was never reached says so ("unreachable")
 * rather than retrying silently for ever; once any socket has opened, a
 * drop is a network's hiccup and retrying goes on.
 */
export const UNREACHABLE_AFTER = 4;

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
  readonly #outbox: Outbox;
  #ws: WebSocket | undefined;
  #joined = false;
  #everJoined = false;
  #everOpened = false;
  #attempt = 0;
  #retryTimer: ReturnType<typeof setTimeout> | undefined;
  readonly #heartbeat: Heartbeat;
  #rateRetry: ReturnType<typeof setTimeout> | undefined;
  #stableTimer: ReturnType<typeof setTimeout> | undefined;
  /** The `history`, `search` or `members` that awaits its answer. */
  #reading: ReadFrame | undefined;
  readonly #reads: ReadFrame[] = [];

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
    this.#outbox = new Outbox((entries) => on.outbox(entries));
    this.#heartbeat = new Heartbeat(this.heartbeatMs, this.pongTimeoutMs);
    this.#open();
  }

  /** Queues a chat (answering `replyTo`, §7.2; with uploaded `files`, §11.2); its `id`, or undefined when the outbox is full. */
  chat(text: string, replyTo?: number, files?: readonly string[]): string | undefined {
    return this.#queue({
      kind: "chat",
      id: newId(),
      text,
      ...(replyTo === undefined ? {} : { replyTo }),
      ...(files === undefined || files.length === 0 ? {} : { files: [...files] }),
    });
  }

  /** Edits, deletes and reactions (§7.2): only while live; their outbox `id`, or undefined. */
  edit(seq: number, text: string): string | undefined {
    return this.state === "live" ? this.#queue({ kind: "edit", id: newId(), seq, text }) : undefined;
  }

  remove(seq: number): string | undefined {
    return this.state === "live" ? this.#queue({ kind: "delete", id: newId(), seq }) : undefined;
  }

  react(seq: number, emoji: string): string | undefined {
    return this.state === "live" ? this.#queue({ kind: "react", id: newId(), seq, emoji }) : undefined;
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

  /**
   * Asks for a page of history, search results (§8) or the roster (§9.4). Reads go one at a
   * time, and only while nothing of the outbox is in flight, so an error
   * that comes back can only be the read's; the rest wait their turn. False
   * when not joined, or too many wait (a lost connection drops them: the
   * page asks again after the next welcome).
   */
  read(frame: ReadFrame): boolean {
    if (!this.#joined || this.#reads.length >= MAX_QUEUED_READS) return false;
    this.#reads.push(frame);
    this.#flush();
    return true;
  }

  /** §10.1: everything up to `seq` is read (signed-in users only); false when not joined. */
  markRead(seq: number): boolean {
    return this.#joined && this.#send({ type: "read", seq });
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
      this.#everOpened = true;
      void this.#join(ws);
      this.#heartbeat.start(ws, () => {
        this.#drop();
        this.#scheduleRetry();
      });
    });
    ws.addEventListener("message", (event) => {
      if (ws !== this.#ws) return;
      this.#heartbeat.alive();
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
      else if (!this.#everOpened && this.#attempt + 1 >= UNREACHABLE_AFTER) this.#end("unreachable");
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
    // Version 3's presence (§9): batched, and counts in a large room.
    const join: ClientFrame = { type: "join", name: this.name, protocol: 3 };
    if (auth !== undefined) join.auth = auth;
    if (this.#everJoined) join.since = this.lastSeq;
    if (this.token && auth === undefined) join.token = this.token;
    ws.send(JSON.stringify(join));
  }

  #handle(frame: ServerFrame): void {
    const on = this.on;
    if (frame.type === "welcome") this.#welcome(frame);
    else if (frame.type === "chat") this.#chat(frame);
    else if (frame.type === "error") this.#error(frame);
    else if (frame.type === "update") {
      this.lastSeq = Math.max(this.lastSeq, frame.seq);
      on.update(frame);
      if (this.#outbox.confirms(frame)) this.#settleHead();
    } else if (frame.type === "presence") on.presence(frame);
    else if (frame.type === "read") on.cursor?.(frame.seq);
    else if (frame.type === "typing") on.typing(frame);
    else if (frame.type === "dm") on.dm(frame);
    else if (frame.type === "moderation") on.moderation(frame);
    else if (frame.type === "history" || frame.type === "search" || frame.type === "members") {
      const asked = this.#reading;
      this.#reading = undefined;
      on.read(frame, asked);
      this.#flush();
    }
    // `pong`: any frame already counted as a sign of life.
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
    for (const m of welcome.history) this.#outbox.settle(m, this.name);
    this.lastSeq = Math.max(this.lastSeq, welcome.seq);
    // A reaction sent on the dead connection is not sent again: the
    // history above shows whether it arrived.
    if (this.#outbox.headSent && this.#outbox.head?.kind === "react") this.#outbox.shift();
    this.on.welcome(welcome, welcome.history, rejoin);
    this.#setState("live", {});
    this.#outbox.inFlight = false;
    this.#flush();
  }

  #chat(chat: ChatFrame): void {
    const mine = this.#outbox.settle(chat, this.name);
    if (chat.seq > this.lastSeq) {
      this.lastSeq = chat.seq;
      this.on.chat(chat);
    }
    if (mine) {
      this.#outbox.inFlight = false;
      this.#flush();
    }
  }

  #settleHead(): void {
    this.#outbox.shift();
    this.#outbox.inFlight = false;
    this.#flush();
  }

  #queue(pending: Pending): string | undefined {
    if (!this.#outbox.push(pending)) return undefined;
    this.#flush();
    return pending.id;
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
    const read = this.#reading;
    if (read && !UNASKED.has(error.code)) {
      this.#reading = undefined;
      this.on.error(error, read.type);
      this.#flush();
      return;
    }
    // `replaced` comes right before the CLOSE_REPLACED close, and belongs to no message.
    if (!this.#outbox.inFlight || error.code === "replaced") {
      this.on.error(error, "other");
      return;
    }
    const { during, retryAfterMs } = this.#outbox.refused(error);
    this.on.error(error, during);
    if (retryAfterMs === undefined) this.#flush();
    else {
      clearTimeout(this.#rateRetry);
      this.#rateRetry = setTimeout(() => this.#flush(), retryAfterMs);
    }
  }

  #flush(): void {
    if (this.#reading) return;
    const read = this.#outbox.inFlight ? undefined : this.#reads[0];
    if (read && this.#send(read)) {
      this.#reads.shift();
      this.#reading = read;
      return;
    }
    const frame = this.#joined ? this.#outbox.next() : undefined;
    if (frame && this.#send(frame)) this.#outbox.sent();
  }

  #send(frame: ClientFrame): boolean {
    const ws = this.#ws;
    if (!ws || !this.#joined || ws.readyState !== ws.OPEN) return false;
    ws.send(JSON.stringify(frame));
    return true;
  }

  /** Forgets the current socket (closing it if need be); the outbox stays. */
  #drop(): void {
    const ws = this.#ws;
    this.#ws = undefined;
    this.#joined = false;
    this.#outbox.inFlight = false;
    this.#reading = undefined;
    this.#reads.length = 0;
    this.#heartbeat.stop();
    clearTimeout(this.#rateRetry);
    clearTimeout(this.#stableTimer);
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
