/**
 * The in-workerd tests' one fixture module: open a socket on a room through
 * the Worker (as a browser would), wait until something holds, and reach a
 * room's live state. Sockets opened here are closed after each test, so a
 * failing test leaks none into the next. Every frame they receive is
 * checked against the wire module's schemas; one outside the protocol
 * fails the test.
 */
import { runInDurableObject } from "cloudflare:test";
import { env, exports } from "cloudflare:workers";
import { afterEach } from "vitest";
import { parseServerFrame } from "../../src/shared/server-frames";

export interface Socket {
  ws: WebSocket;
  /** Every frame received, parsed. */
  frames: Array<Record<string, unknown>>;
}

const open: WebSocket[] = [];
/** Frames a socket received that the wire module's schemas refuse: none may arrive. */
const outsideProtocol: string[] = [];
afterEach(() => {
  const refused = outsideProtocol.splice(0);
  if (refused.length > 0) throw new Error(`the room sent frames outside the protocol: ${refused.join(" | ")}`);
  for (const ws of open.splice(0)) {
    try {
      ws.close(1000);
    } catch {
      // Already closed.
    }
  }
});

/** Opens a socket on `room` through the Worker and collects what it receives. */
export async function connect(room: string): Promise<Socket> {
  const res = await exports.default.fetch(`http://chat.test/chat/${room}`, { headers: { Upgrade: "websocket" } });
  const ws = res.webSocket;
  if (!ws) throw new Error(`no socket: ${res.status}`);
  ws.accept();
  open.push(ws);
  const socket: Socket = { ws, frames: [] };
  ws.addEventListener("message", (e) => {
    // Checked against the protocol's schemas, as every client does.
    const frame = typeof e.data === "string" ? parseServerFrame(e.data) : undefined;
    if (frame) socket.frames.push({ ...frame });
    else outsideProtocol.push(String(e.data));
  });
  return socket;
}

export async function connectMany(room: string, n: number): Promise<Socket[]> {
  const sockets = [];
  for (let i = 0; i < n; i++) sockets.push(await connect(room));
  return sockets;
}

/** Polls `probe` every 10 ms until it gives something other than undefined or false (`seconds`, 5 by default). */
export async function until<T>(
  probe: () => T | undefined | false | Promise<T | undefined | false>,
  what: string,
  seconds = 5,
): Promise<T> {
  for (let i = 0; i < seconds * 100; i++) {
    const value = await probe();
    if (value !== undefined && value !== false) return value;
    await new Promise((r) => setTimeout(r, 10));
  }
  throw new Error(`timed out waiting for ${what}`);
}

/** The last frame of a type a socket received, if any. */
export const last = (s: Socket, type: string) => () => s.frames.findLast((f) => f.type === type);

/** Runs `body` inside the room's object, with its live state. */
export function inRoom<T>(room: string, body: (state: DurableObjectState) => T | Promise<T>): Promise<T> {
  return runInDurableObject(env.ROOMS.get(env.ROOMS.idFromName(room)), (_live, state) => body(state));
}

export interface Recorded {
  ws: WebSocket;
  sent: string[];
}

/** A socket's server end with `send` recorded. */
export function record(ws: WebSocket): Recorded {
  const sent: string[] = [];
  const send = ws.send.bind(ws);
  Object.defineProperty(ws, "send", {
    configurable: true,
    value: (data: string) => {
      sent.push(data);
      send(data);
    },
  });
  return { ws, sent };
}
