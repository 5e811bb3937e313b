/**
 * What a session (connection.ts) tells the page, and how it is set up: the
 * contract between the session logic, which has no DOM, and whoever renders
 * it (app.ts in the browser, the tests in Node).
 */
import type { ChatFrame, ServerFrameOf, WelcomeFrame } from "../shared/server-frames";

export type State = "connecting" | "live" | "reconnecting" | "offline" | "ended";
export interface Pending {
  id: string;
  text: string;
}
export type PresenceFrame = ServerFrameOf<"joined" | "left">;
export type ErrorFrame = ServerFrameOf<"error">;

/** What the page is told; the session never touches the DOM. */
export interface Handlers {
  status(state: State, detail: { retryAt?: number; reason?: string }): void;
  welcome(welcome: WelcomeFrame, fresh: ChatFrame[], rejoin: boolean): void;
  chat(chat: ChatFrame): void;
  presence(frame: PresenceFrame): void;
  typing(frame: ServerFrameOf<"typing">): void;
  dm(dm: ServerFrameOf<"dm">): void;
  /** A moderation action in the room (§6.3). */
  moderation(frame: ServerFrameOf<"moderation">): void;
  error(error: ErrorFrame, during: "join" | "chat" | "other"): void;
  outbox(pending: readonly Pending[]): void;
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
   * undefined: the session joins as a guest under `name`.
   */
  getToken?: (() => Promise<string | undefined>) | undefined;
  on: Handlers;
  WebSocket?: typeof WebSocket;
  /** Shorter in tests. */
  timing?: { heartbeatMs?: number; pongTimeoutMs?: number; stableMs?: number };
}
