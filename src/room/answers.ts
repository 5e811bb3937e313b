/**
 * Two bounds on what a single socket costs the room (protocol §2.5, §2.4),
 * kept apart from the chat rules because they are about the runtime, not
 * about chat.
 */

import type { Bucket } from "../shared/rate-limit";
import { fullBucket, type Rate, spendIntoDebt } from "../shared/rate-limit";
import { utf8Length } from "../shared/text";
import type { Members } from "./members";

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
 * The join timeout (JOIN_TIMEOUT_MS): when the room's alarm must fire, and
 * which sockets it closes. The alarm is the only clock a room has (no
 * timers: an evicted object has none), and setting it is a storage write,
 * so it is set only when the earliest deadline moves earlier.
 */
export class JoinTimeouts<S> {
  readonly #set: (at: number) => void;
  readonly #members: Members<S>;
  readonly #timeoutMs: number;
  /** When the alarm is set for (null: none); undefined until known after a wake-up. */
  #at: number | null | undefined;

  constructor(set: (at: number) => void, members: Members<S>, timeoutMs: number) {
    this.#set = set;
    this.#members = members;
    this.#timeoutMs = timeoutMs;
  }

  /** A socket became unjoined at `since` (it opened, or left): make sure the alarm fires by its deadline. */
  started(since: number): void {
    let deadline = since + this.#timeoutMs;
    if (this.#at === undefined) {
      // After a wake-up the stored alarm is unknown; the sessions say what it should be.
      deadline = Math.min(deadline, this.#earliest() ?? deadline);
    } else if (this.#at !== null && this.#at <= deadline) {
      return;
    }
    this.#at = deadline;
    this.#set(deadline);
  }

  /** The alarm rang: returns the sockets past their deadline and sets the alarm for the next one. */
  expire(now: number): S[] {
    const due: S[] = [];
    for (const [socket, session] of this.#members.entries()) {
      if (!session.member && session.idleSince + this.#timeoutMs <= now) due.push(socket);
    }
    for (const socket of due) this.#members.close(socket);
    const next = this.#earliest();
    this.#at = next ?? null;
    if (next !== undefined) this.#set(next);
    return due;
  }

  #earliest(): number | undefined {
    let earliest: number | undefined;
    for (const [, session] of this.#members.entries()) {
      if (session.member) continue;
      const deadline = session.idleSince + this.#timeoutMs;
      if (earliest === undefined || deadline < earliest) earliest = deadline;
    }
    return earliest;
  }
}
