/**
 * What a connection (connection.ts) tells the page, and how it is set up: the
 * contract between the connection logic, which has no DOM, and whoever renders
 * it (app.ts in the browser, the tests in Node).
 */
import type { ClientFrameOf } from "../shared/protocol";
import type { ChatFrame, ServerFrameOf, WelcomeFrame } from "../shared/server-frames";

export type State = "connecting" | "live" | "reconnecting" | "offline" | "ended";
/**
 * Something the connection sends and waits to see confirmed, one at a time:
 * a chat (confirmed by its echo, matched by `id`), or a change to a message
 * (§7, confirmed by the matching `update`).
 */
export type Pending =
  | { kind: "chat"; id: string; text: string; replyTo?: number; files?: string[] }
  | { kind: "edit"; id: string; seq: number; text: string }
  | { kind: "delete"; id: string; seq: number }
  | { kind: "react"; id: string; seq: number; emoji: string };
/** A socket that joined with `protocol: 3` hears of others in batches (§9.2), never by `joined`/`left`. */
export type PresenceFrame = ServerFrameOf<"presence">;
export type ErrorFrame = ServerFrameOf<"error">;
/** A request answered to this socket alone (§8.2, §8.3, §9.4); the connection sends one at a time. */
export type ReadFrame = ClientFrameOf<"history" | "search" | "members">;

/** What the page is told; the connection never touches the DOM. */
export interface Handlers {
  status(state: State, detail: { retryAt?: number; reason?: string }): void;
  /** `history`: every message the welcome carries, new or changed while away (§7.4). */
  welcome(welcome: WelcomeFrame, history: ChatFrame[], rejoin: boolean): void;
  chat(chat: ChatFrame): void;
  /** A change to a message (§7.3). */
  update(update: ServerFrameOf<"update">): void;
  presence(frame: PresenceFrame): void;
  typing(frame: ServerFrameOf<"typing">): void;
  dm(dm: ServerFrameOf<"dm">): void;
  /** A moderation action in the room (§6.3). */
  moderation(frame: ServerFrameOf<"moderation">): void;
  /** The answer to this socket's own `history`, `search` (§8) or `members` (§9.4). */
  /** `asked`: the request it answers (the same object that was passed to `read`). */
  read(frame: ServerFrameOf<"history" | "search" | "members">, asked?: ReadFrame): void;
  /** `during`: the join, what was in flight (a chat or a change), the read that was asked (by its type), or none of them. */
  error(error: ErrorFrame, during: "join" | Pending["kind"] | ReadFrame["type"] | "other"): void;
  outbox(pending: readonly Pending[]): void;
  /** §10.1: the user's read cursor moved on another of their sockets. */
  cursor?(seq: number): void;
}

export interface ConnectionOptions {
  /** ws(s)://host/chat/room */
  url: string;
  name: string;
  /** The reclaim token from an earlier welcome (a page reload). */
  token?: string | undefined;
  /**
   * Where identity tokens come from (§5), asked before every join, so each
   * reconnect presents a fresh one. Undefined, or a source that gives
   * undefined: the connection joins as a guest under `name`.
   */
  getToken?: (() => Promise<string | undefined>) | undefined;
  on: Handlers;
  WebSocket?: typeof WebSocket;
  /** Shorter in tests. */
  timing?: { heartbeatMs?: number; pongTimeoutMs?: number; stableMs?: number };
}
