/**
 * Frame order per socket while a join awaits its token's check (§5.2).
 * Every other frame is handled synchronously, start to end, so order holds
 * by itself; a join with `auth` awaits a signature check (and maybe a key
 * fetch), and the runtime may deliver the same socket's next frames
 * meanwhile. They wait here, and are handled in order once it is done.
 */
type Data = string | ArrayBuffer;

/** Frames a socket may send while its join waits; a client that sends more is not waiting for its welcome. */
export const MAX_WAITING_FRAMES = 32;

export class Inbox<S extends object> {
  readonly #waiting = new WeakMap<S, Data[]>();
  readonly #handle: (socket: S, data: Data) => Promise<void> | undefined;
  readonly #open: (socket: S) => boolean;
  readonly #overflow: (socket: S) => void;

  /**
   * @param handle handles one frame; a promise while it awaits
   * @param open whether the socket is still open (a closed one has nothing left to say)
   * @param overflow answers a frame beyond MAX_WAITING_FRAMES
   */
  constructor(
    handle: (socket: S, data: Data) => Promise<void> | undefined,
    open: (socket: S) => boolean,
    overflow: (socket: S) => void,
  ) {
    this.#handle = handle;
    this.#open = open;
    this.#overflow = overflow;
  }

  receive(socket: S, data: Data): void | Promise<void> {
    const waiting = this.#waiting.get(socket);
    if (waiting) {
      if (waiting.length < MAX_WAITING_FRAMES) waiting.push(data);
      else this.#overflow(socket);
      return;
    }
    const pending = this.#handle(socket, data);
    if (pending) return this.#wait(socket, pending);
  }

  /** Holds the socket's next frames until `pending` is done, then handles them in order. */
  async #wait(socket: S, pending: Promise<void>): Promise<void> {
    const queue: Data[] = [];
    this.#waiting.set(socket, queue);
    try {
      let next: Promise<void> | undefined = pending;
      while (next) {
        await next;
        next = undefined;
        while (!next && queue.length > 0) {
          const data = queue.shift();
          if (data !== undefined && this.#open(socket)) next = this.#handle(socket, data);
        }
      }
    } finally {
      this.#waiting.delete(socket);
    }
  }
}
