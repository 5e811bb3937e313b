/**
 * Where one chat is drawn: its elements, the server it talks to, and what
 * scrolls its conversation. The page has one view, over its document; each
 * <edge-chat-room> has its own, over its shadow root. Every part of the chat
 * takes the view it is mounted in, so nothing reaches for a global.
 */
import type { Ui } from "./dom";

export interface View {
  readonly ui: Ui;
  /** The chat server's origin: the page's own, or the one embed.js came from. */
  readonly server: string;
  /** The box that scrolls the conversation: the document's for the page, the log pane in an element. */
  readonly scroller: () => Element;
  /** Where that box's scroll events arrive (the window for the page). */
  readonly scrollEvents: EventTarget;
  /** Where key presses inside the chat arrive (Escape closes a direct message). */
  readonly keys: EventTarget;
}

/** A URL on the chat server (`/api/rooms`, `/chat/lobby`), as a string. */
export function onServer(view: Pick<View, "server">, path: string): string {
  return new URL(path, view.server).href;
}

/** A socket's URL on the chat server: `ws:` beside `http:`, `wss:` beside `https:`. */
export function socketOnServer(server: string, path: string): string {
  const url = new URL(path, server);
  url.protocol = url.protocol === "https:" ? "wss:" : "ws:";
  return url.href;
}
