/**
 * What the room must do later, without a timer: close a socket that has
 * held no name for JOIN_TIMEOUT_MS (§2.4), end the grace of a member who
 * dropped (§5.4), and end a timed ban or mute (§6.2). The first two are
 * read off the members (states' `idleSince`, away members' `awayUntil`),
 * the last is asked of the sanctions, and the room's one Durable Object
 * alarm is set for the earliest. The alarm is the only clock a room has (an evicted object
 * has none), and setting it is a storage write, so it is set only when the
 * earliest deadline moves earlier.
 */
import type { Members, Membership } from "./members";

export class Deadlines<S> {
  readonly #set: (at: number) => void;
  readonly #members: Members<S>;
  readonly #joinTimeoutMs: number;
  readonly #more: () => number | undefined;
  /** When the alarm is set for (null: none); undefined until known after a wake-up. */
  #at: number | null | undefined;

  /** @param more another deadline source (the next sanction to run out) */
  constructor(set: (at: number) => void, members: Members<S>, joinTimeoutMs: number, more: () => number | undefined) {
    this.#set = set;
    this.#members = members;
    this.#joinTimeoutMs = joinTimeoutMs;
    this.#more = more;
  }

  /** A socket became unjoined at `since` (it opened, or left). */
  unjoined(since: number): void {
    this.want(since + this.#joinTimeoutMs);
  }

  /** Makes sure the alarm fires by `deadline`. */
  want(deadline: number): void {
    let at = deadline;
    if (this.#at === undefined) {
      // After a wake-up the stored alarm is unknown; the members say what it should be.
      at = Math.min(at, this.#earliest() ?? at);
    } else if (this.#at !== null && this.#at <= at) {
      return;
    }
    this.#at = at;
    this.#set(at);
  }

  /**
   * The alarm rang: the sockets past their join deadline and the away
   * members past their grace, still in the room (the caller closes and
   * announces them); the alarm is set again for what remains.
   */
  due(now: number): { sockets: S[]; away: Membership<S>[] } {
    const sockets: S[] = [];
    for (const [socket, state] of this.#members.entries()) {
      if (!state.member && state.idleSince + this.#joinTimeoutMs <= now) sockets.push(socket);
    }
    const away: Membership<S>[] = [];
    for (const membership of this.#members.all()) {
      if (membership.awayUntil !== undefined && membership.awayUntil <= now) away.push(membership);
    }
    return { sockets, away };
  }

  /** After the due work is done: the alarm for the next deadline, if any. */
  rearm(): void {
    const next = this.#earliest();
    this.#at = next ?? null;
    if (next !== undefined) this.#set(next);
  }

  #earliest(): number | undefined {
    let earliest: number | undefined;
    const consider = (at: number) => {
      if (earliest === undefined || at < earliest) earliest = at;
    };
    for (const [, state] of this.#members.entries()) {
      if (!state.member) consider(state.idleSince + this.#joinTimeoutMs);
    }
    for (const membership of this.#members.all()) {
      if (membership.awayUntil !== undefined) consider(membership.awayUntil);
    }
    const more = this.#more();
    if (more !== undefined) consider(more);
    return earliest;
  }
}
