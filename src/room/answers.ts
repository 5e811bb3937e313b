/**
 * Two bounds on what a single socket costs the room (protocol §2.5, §2.4),
 * kept apart from the chat rules because they are about the runtime, not
 * about chat.
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
export class AnswerBudget<S extends object> {
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
  left(socket: S, now: number): boolean {
    return spendIntoDebt(this.#bucket(socket, now), this.#rate, now, 0) !== null;
  }

  #bucket(socket: S, now: number): Bucket {
    return this.#left.get(socket) ?? fullBucket(this.#rate.burst, now);
  }
}

/**
 * When the room's alarm must fire for the join timeout (JOIN_TIMEOUT_MS).
 * The alarm is the only clock a room has (no timers: an evicted object has
 * none), and setting it is a storage write, so it is set only when the
 * earliest deadline moves earlier.
 */
export class AlarmClock {
  readonly #set: (at: number) => void;
  /** When the alarm is set for (null: none); undefined until known after a wake-up. */
  #at: number | null | undefined;

  constructor(set: (at: number) => void) {
    this.#set = set;
  }

  /**
   * Makes sure the alarm fires by `deadline`. After a wake-up the stored
   * alarm is unknown; `earliest` (every pending deadline) says what it should be.
   */
  needBy(deadline: number, earliest: () => number | undefined): void {
    if (this.#at === undefined) {
      deadline = Math.min(deadline, earliest() ?? deadline);
    } else if (this.#at !== null && this.#at <= deadline) {
      return;
    }
    this.#at = deadline;
    this.#set(deadline);
  }

  /** The alarm has fired: it is set again only for `next`, if any. */
  rang(next: number | undefined): void {
    this.#at = next ?? null;
    if (next !== undefined) this.#set(next);
  }
}
