/**
 * `edge-chat/client`: the typed client library for sites and bots that
 * bring their own page. It is the page's own connection (connection.ts:
 * reconnect with `since`, the outbox that resends by `id` without
 * duplicates, the heartbeat, one read at a time) with promises and events
 * on top, and it keeps what a client usually wants to hold: the messages
 * in their latest state and the roster. Every frame is checked against the
 * wire module's schemas, and the rules it applies (how an `update` changes
 * a message, how a `presence` batch changes the roster) are the ones the
 * room uses (src/shared/).
 *
 * It speaks protocol version 3 (§9): presence arrives in batches, and in a
 * large room only the count does (`large`); `members()` pages the roster.
 */
import { applyPresence, type PresenceFrame } from "../../shared/presence";
import type {
  ChatFrame,
  FileInfo,
  MemberEntry,
  ServerFrameOf,
  UpdateFrame,
  WelcomeFrame,
} from "../../shared/server-frames";
import { applyUpdate } from "../../shared/updates";
import { ChatConnection } from "../connection";
import type { ErrorFrame, Handlers, Pending, ReadFrame, State } from "../connection-types";
import { UploadError, uploadFile } from "../uploads";
import { socketOnServer } from "../view";

export interface ChatClientOptions {
  /** The chat server's base URL, `http(s)://…`. */
  url: string;
  room: string;
  /** A guest's name; ignored when `getToken` gives a token (the token names the user, §5.2). */
  name?: string;
  /** An identity token for the user, or null for a guest; asked again before every reconnect. */
  getToken?: () => Promise<string | null>;
  /** A WebSocket constructor where there is no global one (Node 20: the `ws` package). */
  WebSocket?: unknown;
}

export interface ClientEvents {
  /** A new message in the room (also your own, once stored). */
  message: ChatFrame;
  /** A change to a message (§7.3); `client.messages` already shows it. */
  update: UpdateFrame;
  /** Others came or went (§9.2), or the count changed (§9.3); `client.roster` already shows it. */
  presence: PresenceFrame;
  status: { state: State; reason?: string | undefined };
  /** A refusal from the room; `during` says what it refused. */
  error: { error: ErrorFrame; during: string };
  /** §10.1: your read cursor moved on another of your connections (signed in only). */
  read: { seq: number };
}

/** A refusal from the room, as a rejected promise carries it. */
export class ChatError extends Error {
  readonly code: string;
  constructor(frame: Pick<ErrorFrame, "code" | "message">) {
    super(frame.message);
    this.name = "ChatError";
    this.code = frame.code;
  }
}

type Listener<K extends keyof ClientEvents> = (event: ClientEvents[K]) => void;
type Settle = { resolve: (value: ChatFrame | undefined) => void; reject: (err: Error) => void };
type Read = {
  type: ReadFrame["type"];
  resolve: (frame: ServerFrameOf<ReadFrame["type"]>) => void;
  reject: (err: Error) => void;
};

export class ChatClient {
  readonly room: string;
  readonly #url: string;
  readonly #options: ChatClientOptions;
  #connection: ChatConnection | undefined;
  readonly #messages = new Map<number, ChatFrame>();
  #roster: MemberEntry[] = [];
  #count = 0;
  #large = false;
  readonly #listeners: { [K in keyof ClientEvents]: Set<Listener<K>> } = {
    message: new Set(),
    update: new Set(),
    presence: new Set(),
    status: new Set(),
    error: new Set(),
    read: new Set(),
  };
  /** Sends and changes waiting for the room, by outbox id. */
  readonly #settles = new Map<string, Settle>();
  /** What the outbox held at its last report, and what that report took out of it. */
  #outbox: readonly Pending[] = [];
  #removed: readonly Pending[] = [];
  readonly #refused = new Map<string, ErrorFrame>();
  readonly #reads: Read[] = [];
  #welcome: { resolve: (w: WelcomeFrame) => void; reject: (err: Error) => void } | undefined;

  constructor(options: ChatClientOptions) {
    this.#options = options;
    this.room = options.room;
    this.#url = socketOnServer(options.url, `/chat/${encodeURIComponent(options.room)}`);
  }

  /** Messages known to the client, in their latest state, by `seq`. */
  get messages(): ChatFrame[] {
    return [...this.#messages.values()].sort((a, b) => a.seq - b.seq);
  }

  /** The members known to the client, in join order; empty in a large room (see `members()`). */
  get roster(): MemberEntry[] {
    return [...this.#roster];
  }

  /** Members in the room, the client included. */
  get count(): number {
    return this.#count;
  }

  /** §9.3: the room has more than ROSTER_LIMIT members, so only the count is pushed. */
  get large(): boolean {
    return this.#large;
  }

  /** The connection's state: connecting, live, reconnecting, offline or ended. */
  get state(): State {
    return this.#connection?.state ?? "connecting";
  }

  /** Calls `fn` on every `event` from now on; returns the function that stops it. */
  on<K extends keyof ClientEvents>(event: K, fn: Listener<K>): () => void {
    const listeners: Set<Listener<K>> = this.#listeners[event];
    listeners.add(fn);
    return () => listeners.delete(fn);
  }

  /** Opens the connection and resolves with the welcome; rejects with the room's refusal of the join. */
  connect(): Promise<WelcomeFrame> {
    if (this.#connection) throw new Error("connect() was already called");
    const { getToken, WebSocket } = this.#options;
    return new Promise((resolve, reject) => {
      this.#welcome = { resolve, reject };
      this.#connection = new ChatConnection({
        url: this.#url,
        name: this.#options.name ?? "",
        getToken: getToken && (async () => (await getToken()) ?? undefined),
        on: this.#handlers(),
        ...(WebSocket === undefined ? {} : { WebSocket: WebSocket as typeof globalThis.WebSocket }),
      });
    });
  }

  /**
   * Sends a chat and resolves with it as stored (with its `seq`). It is
   * queued while the connection is down and resent by `id` after a
   * reconnect, so it is stored once.
   */
  send(
    text: string,
    options: { replyTo?: number; files?: ReadonlyArray<string | { id: string }> } = {},
  ): Promise<ChatFrame> {
    const files = options.files?.map((f) => (typeof f === "string" ? f : f.id));
    return this.#track(this.#live().chat(text, options.replyTo, files)).then((chat) => {
      if (!chat) throw new Error("the message was not confirmed");
      return chat;
    });
  }

  /**
   * Uploads a file to the room (§11.1) for a later `send(text, { files })`;
   * resolves with it (its `url` is a path on the chat's origin). Rejects
   * with an UploadError whose `code` is the server's (`too_large`,
   * `unsupported_type`, `rate_limited`, …). Needs the connection's welcome.
   */
  upload(
    file: Blob,
    name: string,
    options: { onProgress?: (sent: number, total: number) => void } = {},
  ): Promise<FileInfo> {
    const token = this.#live().token;
    if (token === undefined) return Promise.reject(new UploadError("not_joined", "Join the room before uploading."));
    return uploadFile(file, name, {
      server: this.#options.url,
      room: this.room,
      token,
      ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    });
  }

  /** Edits your message (§7.2); resolves once the room has applied it. */
  edit(seq: number, text: string): Promise<void> {
    return this.#track(this.#live().edit(seq, text)).then(() => undefined);
  }

  delete(seq: number): Promise<void> {
    return this.#track(this.#live().remove(seq)).then(() => undefined);
  }

  /** Adds your reaction, or takes it back if you had it (§7.2). */
  react(seq: number, emoji: string): Promise<void> {
    return this.#track(this.#live().react(seq, emoji)).then(() => undefined);
  }

  /** Older messages (§8.2); they also join `client.messages`. */
  history(query: { before?: number; after?: number; limit?: number } = {}): Promise<ServerFrameOf<"history">> {
    return this.#read({ type: "history", ...query });
  }

  /** Messages with every word of `q` (§8.3), newest first. */
  search(q: string, query: { before?: number; limit?: number } = {}): Promise<ServerFrameOf<"search">> {
    return this.#read({ type: "search", q, ...query });
  }

  /** One page of the roster by name (§9.4); follow `next` for the rest. */
  members(query: { prefix?: string; after?: string; limit?: number } = {}): Promise<ServerFrameOf<"members">> {
    return this.#read({ type: "members", ...query });
  }

  /**
   * §10.1: you have read everything up to `seq` (signed-in users; a guest
   * gets an `auth_required` error event). The room answers nothing; your
   * other connections get a `read` event.
   */
  markRead(seq: number): void {
    if (!this.#live().markRead(seq)) throw new Error("not connected");
  }

  /** Leaves the room and closes cleanly (1000): the name is free at once, and nothing reconnects. */
  close(): void {
    this.#connection?.leave();
  }

  // -------------------------------------------------------------------------

  #live(): ChatConnection {
    if (!this.#connection) throw new Error("call connect() first");
    return this.#connection;
  }

  #emit<K extends keyof ClientEvents>(event: K, value: ClientEvents[K]): void {
    const listeners: Set<Listener<K>> = this.#listeners[event];
    for (const fn of listeners) fn(value);
  }

  #track(id: string | undefined): Promise<ChatFrame | undefined> {
    if (id === undefined) return Promise.reject(new Error("not sent: not connected, or too many messages waiting"));
    return new Promise((resolve, reject) => this.#settles.set(id, { resolve, reject }));
  }

  #read<T extends ReadFrame["type"]>(frame: Extract<ReadFrame, { type: T }>): Promise<ServerFrameOf<T>> {
    return new Promise((resolve, reject) => {
      if (!this.#connection?.read(frame)) return reject(new Error("not connected, or too many requests waiting"));
      this.#reads.push({ type: frame.type, resolve: resolve as Read["resolve"], reject });
    });
  }

  #store(chat: ChatFrame): boolean {
    const known = this.#messages.get(chat.seq);
    if (known && known.v >= chat.v) return false;
    this.#messages.set(chat.seq, chat);
    return known === undefined;
  }

  #confirm(chat: ChatFrame): void {
    if (chat.id === undefined || chat.name !== this.#connection?.name) return;
    this.#settles.get(chat.id)?.resolve(chat);
    this.#settles.delete(chat.id);
  }

  #settle(entry: Pending): void {
    const settle = this.#settles.get(entry.id);
    const refusal = this.#refused.get(entry.id);
    this.#refused.delete(entry.id);
    if (!settle) return;
    if (refusal) settle.reject(new ChatError(refusal));
    // A chat settles with its stored frame (#confirm), which came first.
    else if (entry.kind !== "chat") settle.resolve(undefined);
    else return;
    this.#settles.delete(entry.id);
  }

  #handlers(): Handlers {
    return {
      status: (state, detail) => {
        this.#emit("status", { state, reason: detail.reason });
        if (state === "live") return;
        // Reads die with their socket; the outbox's entries wait for the next one.
        for (const read of this.#reads.splice(0)) read.reject(new Error("the connection was lost"));
        if (state !== "ended") return;
        const err = new Error(`the connection ended: ${detail.reason ?? "closed"}`);
        // A refused join ends the connection and then reports the refusal:
        // connect() rejects with the refusal, which comes a moment later.
        const welcome = this.#welcome;
        queueMicrotask(() => welcome?.reject(err));
        for (const settle of this.#settles.values()) settle.reject(err);
        this.#settles.clear();
      },
      welcome: (welcome, history, rejoin) => {
        for (const chat of history) {
          const fresh = this.#store(chat);
          this.#confirm(chat);
          if (rejoin && fresh) this.#emit("message", chat);
        }
        this.#count = welcome.count ?? welcome.members?.length ?? 0;
        this.#large = welcome.large === true;
        this.#roster = welcome.members ?? [];
        this.#welcome?.resolve(welcome);
        this.#welcome = undefined;
      },
      chat: (chat) => {
        if (this.#store(chat)) this.#emit("message", chat);
        this.#confirm(chat);
      },
      update: (update) => {
        const known = this.#messages.get(update.target);
        if (known && known.v < update.v) this.#messages.set(update.target, applyUpdate(known, update));
        this.#emit("update", update);
      },
      presence: (frame) => {
        this.#count = frame.count;
        if (frame.large !== undefined) this.#large = frame.large;
        this.#roster = this.#large ? [] : applyPresence(this.#roster, frame);
        this.#emit("presence", frame);
      },
      cursor: (seq) => this.#emit("read", { seq }),
      typing: () => {},
      dm: () => {},
      moderation: () => {},
      read: (frame) => {
        if (frame.type === "history") for (const chat of frame.messages) this.#store(chat);
        this.#reads.shift()?.resolve(frame);
      },
      error: (error, during) => {
        if (during === "join") this.#welcome?.reject(new ChatError(error));
        else if (during === "history" || during === "search" || during === "members") {
          this.#reads.shift()?.reject(new ChatError(error));
        } else {
          // The outbox drops an entry refused for good just before the
          // error is reported; one kept for a retry is not refused yet.
          const gone = this.#removed.find((p) => p.kind === during);
          if (gone) this.#refused.set(gone.id, error);
        }
        this.#emit("error", { error, during });
      },
      outbox: (pending) => {
        // An entry that left the outbox was stored, applied or refused for
        // good. Which one is known only once the connection has reported
        // the frame that took it out (the chat, or the error), right after
        // this: so each is settled a microtask later.
        const still = new Set(pending.map((p) => p.id));
        this.#removed = this.#outbox.filter((p) => !still.has(p.id));
        // A copy: the outbox reports its own array, which it changes in place.
        this.#outbox = [...pending];
        for (const entry of this.#removed) queueMicrotask(() => this.#settle(entry));
      },
    };
  }
}
