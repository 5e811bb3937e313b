/**
 * How the connection (connection.ts) notices a dead socket and how long it
 * waits before trying again: a heartbeat, and exponential backoff with
 * jitter, the way partysocket does it.
 */
import { PING_TEXT } from "../shared/protocol";

export const HEARTBEAT_MS = 25_000;
export const PONG_TIMEOUT_MS = 10_000;
/** A connection live this long counts as healthy again, and the backoff starts over. */
export const STABLE_MS = 10_000;

/**
 * Delay before reconnect attempt `attempt` (0-based): doubling from 500 ms up
 * to 30 s, and a random point in the upper half of that ("equal jitter"), so
 * clients spread out but none retries instantly forever.
 */
export function backoffMs(attempt: number, random: () => number = Math.random): number {
  const ceiling = Math.min(30_000, 500 * 2 ** attempt);
  return ceiling / 2 + random() * (ceiling / 2);
}

/**
 * A ping every `everyMs` that must be answered within `timeoutMs`. Any
 * frame counts as an answer (`alive`); silence means the connection is
 * dead even if the browser has not noticed (a sleeping laptop, a proxy
 * that dropped it), and `dead` is called.
 */
export class Heartbeat {
  readonly #everyMs: number;
  readonly #timeoutMs: number;
  #timer: ReturnType<typeof setInterval> | undefined;
  #deadline: ReturnType<typeof setTimeout> | undefined;

  constructor(everyMs: number, timeoutMs: number) {
    this.#everyMs = everyMs;
    this.#timeoutMs = timeoutMs;
  }

  start(ws: WebSocket, dead: () => void): void {
    this.stop();
    this.#timer = setInterval(() => {
      if (ws.readyState !== ws.OPEN) return;
      // The exact text the runtime answers itself: no wake-up of the room.
      ws.send(PING_TEXT);
      this.#deadline ??= setTimeout(dead, this.#timeoutMs);
    }, this.#everyMs);
  }

  /** Something arrived: the connection is alive. */
  alive(): void {
    clearTimeout(this.#deadline);
    this.#deadline = undefined;
  }

  stop(): void {
    clearInterval(this.#timer);
    this.alive();
  }
}
