/**
 * Batched presence for version-3 sockets (protocol §9.2, §9.3): at most one
 * `presence` frame per PRESENCE_BATCH_MS (OCCUPANCY_INTERVAL_MS in a large
 * room), with the net change since the socket last heard.
 *
 * The design: the room sends **batches**, all version-3 sockets at once,
 * and never tracks what each socket was told. Every roster change gets a
 * number and a row in a small journal; a batch sends each socket the net
 * change since what it knows, writes one row (the batch) and deletes the
 * journal rows it carried. What a socket knows is either the last batch
 * or, if it was welcomed after that batch, its welcome, which its
 * attachment records once (`told`). So a batch costs one encode per
 * distinct starting point (the sockets welcomed since the last batch, and
 * everyone else), a send per socket, and no attachment writes.
 *
 * The timing is the room's one alarm (state/deadlines.ts asks `next`): the
 * first change after a quiet interval goes out at once, later ones wait
 * for the interval to pass. Nothing pending lives only in memory: the
 * journal, the last batch and each socket's `told` are in storage and
 * attachments, so an eviction with a batch pending loses nothing; the
 * alarm wakes the room and the batch goes out.
 */
import { type LeaveReason, netChange, type RosterChange } from "../../shared/presence";
import { encodeBatch, type Person, person, type ReadEntry } from "../../shared/server-frames";
import type { JournalEntry, PresenceStore, PresenceTick } from "../storage/stores";
import type { Members } from "./members";
import type { Told } from "./socket-state";

export interface PresenceLimits {
  presenceBatchMs: number;
  rosterLimit: number;
  occupancyIntervalMs: number;
}

/** The starting point of a batch: what a socket knew (its welcome's `told`, or the last batch). */
type Known = Pick<Told, "through" | "count" | "large">;

export class Presence<S> {
  readonly #room: string;
  readonly #store: PresenceStore;
  readonly #members: Members<S>;
  readonly #limits: PresenceLimits;
  readonly #send: (socket: S, frame: string) => void;
  /** The changes since the last batch, oldest first. */
  #journal: JournalEntry[];
  #tick: PresenceTick;
  /** The number of the latest change. */
  #latest: number;

  constructor(
    room: string,
    store: PresenceStore,
    members: Members<S>,
    limits: PresenceLimits,
    send: (socket: S, frame: string) => void,
  ) {
    this.#room = room;
    this.#store = store;
    this.#members = members;
    this.#limits = limits;
    this.#send = send;
    const { entries, tick } = store.load();
    this.#journal = entries;
    // `at: 0`, not -Infinity: the batch is stored as JSON, which has no infinities.
    this.#tick = tick ?? { n: 0, through: 0, at: 0, count: 0, large: false };
    // Numbers never go back, also past changes no row was kept for: a
    // socket's `told` may name one (a change made while no other
    // version-3 socket was here to be told of it).
    let latest = Math.max(this.#tick.through, entries.at(-1)?.n ?? 0);
    for (const [, state] of members.entries()) latest = Math.max(latest, state.told?.through ?? 0);
    this.#latest = latest;
  }

  /** §9.3: more than ROSTER_LIMIT members. */
  get large(): boolean {
    return this.#members.size > this.#limits.rosterLimit;
  }

  /**
   * A member joined or left. Only version-3 sockets hear of it through
   * batches, so a room without one keeps no journal at all (version 2's
   * cost); a version-3 socket welcomed later starts from its welcome.
   */
  record(kind: "joined" | "left", who: Person, now: number, reason?: LeaveReason): void {
    if (this.#members.v3 === 0) return;
    const entry: JournalEntry = { n: ++this.#latest, ts: now, kind, who: person(who) };
    if (reason !== undefined) entry.reason = reason;
    this.#journal.push(entry);
    this.#store.append(entry);
  }

  /**
   * §10.1: a user's read cursor moved. Other members' version-3 sockets
   * see it in the next batch, in a room that is not large.
   */
  read(who: { name: string; user: string }, seq: number, now: number): void {
    if (this.#members.v3 === 0 || this.large) return;
    const entry: JournalEntry = {
      n: ++this.#latest,
      ts: now,
      kind: "read",
      who: { name: who.name, user: who.user },
      seq,
    };
    this.#journal.push(entry);
    this.#store.append(entry);
  }

  /** What a version-3 welcome sent now tells its socket (kept in its attachment). */
  told(): Told {
    return { tick: this.#tick.n, through: this.#latest, count: this.#members.size, large: this.large };
  }

  /**
   * When the next batch may go out, if one is pending: not before the
   * interval since the last one (§9.2, §9.3), and no later than that after
   * its first change.
   */
  next(): number | undefined {
    const first = this.#journal[0];
    if (first === undefined) return undefined;
    const { presenceBatchMs, occupancyIntervalMs } = this.#limits;
    // In a large room a count goes to every version-3 socket, O(members):
    // never in the turn of the join or leave that changed it (its welcome
    // would wait behind thousands of sends), but from the alarm, and so at
    // most once per interval however many come and go (§9.3 sets no
    // deadline for counts; PRESENCE_BATCH_MS is the delay chosen).
    if (this.#tick.large && this.large) {
      return Math.max(first.ts + presenceBatchMs, this.#tick.at + occupancyIntervalMs);
    }
    return Math.max(first.ts, this.#tick.at + presenceBatchMs);
  }

  /** Sends the pending batch if it is due; returns when the next one will be, if one waits. */
  settle(now: number): number | undefined {
    const at = this.next();
    if (at === undefined || at > now) return at;
    this.#flush(now);
    return undefined;
  }

  #flush(now: number): void {
    const count = this.#members.size;
    const large = this.large;
    const frames = new Map<string, string | null>();
    let sent = false;
    const readers = this.#readers;
    for (const socket of this.#members.joinedOf(3)) {
      const state = this.#members.stateOf(socket);
      const told = state?.told;
      // A socket whose welcome is still being built learns everything from it.
      if (told === undefined) continue;
      const known: Known = told.tick === this.#tick.n ? told : this.#tick;
      // §10.1: a user's own reads are not receipts to them; their sockets get a frame without them.
      const self = state?.member?.user;
      const reader = self !== undefined && readers.has(self) ? self : undefined;
      const key = `${known.through}:${known.count}:${known.large}:${reader ?? ""}`;
      let frame = frames.get(key);
      if (frame === undefined) {
        frame = this.#frame(known, count, large, now, reader);
        frames.set(key, frame);
      }
      if (frame !== null) {
        this.#send(socket, frame);
        sent = true;
      }
    }
    // A batch nobody received does not hold the next one back.
    const at = sent ? now : this.#tick.at;
    this.#tick = { n: this.#tick.n + 1, through: this.#latest, at, count, large };
    this.#journal = [];
    this.#store.ticked(this.#tick);
  }

  /** The users whose reads the pending journal holds. */
  get #readers(): Set<string> {
    const users = new Set<string>();
    for (const e of this.#journal) if (e.kind === "read") users.add(e.who.user);
    return users;
  }

  /** The frame for sockets that know `known`, or null when nothing changed for them. */
  #frame(known: Known, count: number, large: boolean, ts: number, reader?: string): string | null {
    const room = this.#room;
    if (large) {
      // §9.3: counts only, and the flag once, at the crossing.
      if (!known.large) return encodeBatch({ room, joined: [], left: [], count, ts, large: true });
      return known.count === count ? null : encodeBatch({ room, joined: [], left: [], count, ts });
    }
    if (known.large) {
      const members = Array.from(this.#members.all(), (m) => person(m.member));
      return encodeBatch({ room, joined: [], left: [], count, ts, large: false, members });
    }
    const news = this.#journal.filter((e) => e.n > known.through);
    const { joined, left } = netChange(news.filter((e): e is JournalEntry & RosterChange => e.kind !== "read"));
    const reads = latestReads(news, reader);
    if (joined.length === 0 && left.length === 0 && reads.length === 0) return null;
    return encodeBatch({ room, joined, left, count, ts, reads });
  }
}

/** §10.1: each user's latest cursor among these changes, one entry per user, but `except`'s. */
function latestReads(changes: readonly JournalEntry[], except: string | undefined): ReadEntry[] {
  const latest = new Map<string, ReadEntry>();
  for (const e of changes) {
    if (e.kind !== "read" || e.who.user === except) continue;
    latest.delete(e.who.user);
    latest.set(e.who.user, { name: e.who.name, user: e.who.user, seq: e.seq });
  }
  return [...latest.values()];
}
