/**
 * A bound on what a single socket costs the room (protocol §2.5), kept
 * apart from the chat rules because it is about the runtime, not about chat.
 */

import type { Bucket } from "../shared/rate-limit";
import { fullBucket, type Rate, spendIntoDebt } from "../shared/rate-limit";
import { utf8Length } from "../shared/text";

/**
 * The bytes each socket may be sent in answer to its own frames (welcomes,
 * errors, pongs), per minute. A client that never reads its socket would
 * otherwise make the runtime buffer every answer; past the budget, answers
 * are dropped, not queued. Memory only: it is spent on every error, and an
 * eviction (after ~10 s of silence) refilling it costs little, because the
 * join budget in the attachment still bounds the large answers.
 */
export class ReplyBudget<S extends object> {
  readonly #rate: Rate;
  readonly #left = new WeakMap<S, Bucket>();

  constructor(bytesPerMinute: number) {
    this.#rate = { burst: bytesPerMinute, perSec: bytesPerMinute / 60 };
  }

  /** Spends the frame's bytes; false when the socket's budget is spent and the frame must be dropped. */
  spend(socket: S, frame: string, now: number): boolean {
    const next = spendIntoDebt(this.#bucket(socket, now), this.#rate, now, utf8Length(frame));
    if (!next) return false;
    this.#left.set(socket, next);
    return true;
  }

  /** Whether the socket may be answered at all now. */
  canReply(socket: S, now: number): boolean {
    return spendIntoDebt(this.#bucket(socket, now), this.#rate, now, 0) !== null;
  }

  #bucket(socket: S, now: number): Bucket {
    return this.#left.get(socket) ?? fullBucket(this.#rate.burst, now);
  }
}
