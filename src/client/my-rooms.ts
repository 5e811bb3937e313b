/**
 * A signed-in user's rooms (protocol §10.3): the list with unread counts
 * and mention badges, live from the `/me` socket, the current room
 * marked; choosing one switches rooms without a reload. A mention while
 * the tab is hidden becomes a browser notification, if the user allowed
 * them (reading.ts asks, from a click).
 */
import { parseServerFrame, type UserRoom } from "../shared/server-frames";
import type { TokenSource } from "./identity";
import { socketOnServer, type View } from "./view";

/** A dropped `/me` socket is opened again after this long. */
const RETRY_MS = 5000;

export interface MyRooms {
  /** Signed in: opens (or keeps) the live list with tokens from `tokens`. */
  start(tokens: TokenSource): void;
  /** The room on screen. */
  current(room: string): void;
  /** The room was read up to `seq`. */
  read(room: string, seq: number): void;
  stop(): void;
}

export function mountMyRooms(view: View, choose: (room: string) => void): MyRooms {
  const { ui } = view;
  let ws: WebSocket | undefined;
  let tokens: TokenSource | undefined;
  let rooms: UserRoom[] = [];
  let here = "";
  let retry: ReturnType<typeof setTimeout> | undefined;

  function draw(): void {
    ui.myRooms.hidden = rooms.length === 0;
    ui.myRoomList.replaceChildren(
      ...rooms.map((r) => {
        const li = document.createElement("li");
        const link = document.createElement("a");
        link.href = `#${r.room}`;
        link.textContent = r.room;
        if (r.room === here) link.setAttribute("aria-current", "page");
        link.addEventListener("click", (event) => {
          event.preventDefault();
          if (r.room !== here) choose(r.room);
        });
        li.append(link);
        if (r.unread > 0) li.append(badge("unread", `${r.unread} unread`, String(r.unread)));
        if (r.mentions > 0) li.append(badge("mention-badge", `${r.mentions} mentioning you`, `@${r.mentions}`));
        return li;
      }),
    );
  }

  function badge(kind: string, label: string, text: string): HTMLElement {
    const span = document.createElement("span");
    span.className = `badge ${kind}`;
    span.textContent = text;
    span.setAttribute("aria-label", label);
    span.title = label;
    return span;
  }

  async function open(): Promise<void> {
    const token = await tokens?.().catch(() => undefined);
    if (token === undefined || ws) return;
    const socket = new WebSocket(socketOnServer(view.server, "/me"));
    ws = socket;
    socket.addEventListener("open", () => socket.send(JSON.stringify({ type: "auth", auth: token })));
    socket.addEventListener("message", (event) => {
      const frame = typeof event.data === "string" ? parseServerFrame(event.data) : undefined;
      if (frame?.type === "rooms") {
        rooms = frame.rooms;
        draw();
      } else if (frame?.type === "mention") {
        if (frame.room !== here || document.visibilityState === "hidden") notify(frame.name, frame.room, frame.text);
        // Counts as of now: the list is asked for again.
        socket.send(JSON.stringify({ type: "rooms" }));
      }
    });
    socket.addEventListener("close", () => {
      if (ws !== socket) return;
      ws = undefined;
      if (tokens) retry = setTimeout(() => void open(), RETRY_MS);
    });
  }

  function notify(name: string, room: string, text: string): void {
    if (typeof Notification === "undefined" || Notification.permission !== "granted") return;
    if (document.visibilityState !== "hidden") return;
    new Notification(`${name} mentioned you in ${room}`, { body: text });
  }

  return {
    start(source) {
      tokens = source;
      void open();
    },
    current(room) {
      here = room;
      draw();
    },
    read(room, seq) {
      const entry = rooms.find((r) => r.room === room);
      if (!entry || seq < entry.seq || (entry.unread === 0 && entry.mentions === 0)) return;
      // Read up to what the list last counted: nothing of it is unread now; the next list says the same.
      entry.unread = 0;
      entry.mentions = 0;
      draw();
    },
    stop() {
      tokens = undefined;
      clearTimeout(retry);
      const socket = ws;
      ws = undefined;
      socket?.close(1000);
      rooms = [];
      draw();
    },
  };
}
