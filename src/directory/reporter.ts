/**
 * Tells the directory a room's user count without ever delaying a frame and
 * without timers (a room object sets none; see src/room/chat-room.ts).
 *
 * Coalescing: at most one report is in flight. Changes that arrive meanwhile
 * only move `#latest`; when the report returns, the newest count goes out if
 * it differs from what the directory now holds. A storm of 300 joins is
 * therefore two or three calls, and the last one carries the final count.
 *
 * A failed report is logged, never thrown: the directory is a convenience,
 * the chat is the product. The next change reports again.
 */
export type SendCount = (users: number) => Promise<void>;

export class CountReporter {
  readonly #send: SendCount;
  readonly #keepAlive: (work: Promise<unknown>) => void;
  readonly #onError: (err: unknown) => void;
  /** What the directory holds for this room, as far as we know. */
  #acknowledged: number | undefined;
  #latest: number | undefined;
  #inFlight = false;

  /**
   * @param keepAlive `ctx.waitUntil`, so the runtime does not evict the
   *   object with a report still on the wire.
   */
  constructor(send: SendCount, keepAlive: (work: Promise<unknown>) => void, onError: (err: unknown) => void) {
    this.#send = send;
    this.#keepAlive = keepAlive;
    this.#onError = onError;
  }

  /** Call after every change of the count; returns at once. */
  update(users: number): void {
    this.#latest = users;
    if (this.#inFlight || users === this.#acknowledged) return;
    this.#inFlight = true;
    this.#keepAlive(this.#drain());
  }

  async #drain(): Promise<void> {
    try {
      while (this.#latest !== undefined && this.#latest !== this.#acknowledged) {
        const users = this.#latest;
        try {
          await this.#send(users);
        } catch (err) {
          this.#onError(err);
          return;
        }
        this.#acknowledged = users;
      }
    } finally {
      this.#inFlight = false;
    }
  }
}
