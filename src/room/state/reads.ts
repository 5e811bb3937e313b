/**
 * Read state (protocol §10): each verified user's read cursor, and the
 * verified users the room remembers for mentions while they are away
 * (§10.2). A ReadStore keeps both; this class keeps what a wake-up has
 * read of it, so a `read` or a chat costs one row write and no read.
 *
 * The remembered names are read on the first mention lookup after a
 * wake-up, at most MAX_REMEMBERED of them (the most recently joined): a
 * room never holds more than that in memory whatever its past visitors.
 */
import { foldName } from "../../shared/mentions";
import type { ReaderRow, ReadStore } from "../storage/stores";

/** Remembered users one room looks mentions up in; older ones are not mentionable while away. */
export const MAX_REMEMBERED = 10_000;

export class ReadState {
  readonly #store: ReadStore;
  /** Rows read since the wake-up (null: the user has none). */
  readonly #rows = new Map<string, ReaderRow | null>();
  /** Folded name → the remembered user who holds it, the latest join winning; read on first use. */
  #names: Map<string, ReaderRow> | undefined;

  constructor(store: ReadStore) {
    this.#store = store;
  }

  /** The user's row: cursor, latest name and join. */
  of(user: string): ReaderRow | undefined {
    let row = this.#rows.get(user);
    if (row === undefined) {
      row = this.#store.get(user) ?? null;
      this.#rows.set(user, row);
    }
    return row ?? undefined;
  }

  /** The read cursor (0: none). */
  cursor(user: string): number {
    return this.of(user)?.seq ?? 0;
  }

  /**
   * A verified join (§10.1): the first one sets the cursor to the room's
   * latest event, since history from before they came is not unread; every
   * one refreshes the name and time the room remembers them by (§10.2).
   */
  joined(user: string, name: string, latestSeq: number, now: number): ReaderRow {
    const known = this.of(user);
    const row: ReaderRow = known
      ? { ...known, name, joined: now }
      : { user, name, joined: now, seq: latestSeq, readAt: now };
    this.#put(row);
    if (this.#names) {
      if (known && foldName(known.name) !== foldName(name) && this.#names.get(foldName(known.name))?.user === user) {
        this.#names.delete(foldName(known.name));
      }
      this.#names.set(foldName(name), row);
    }
    return row;
  }

  /** Moves the cursor forward to `seq`; false when it is already there or past it (§10.1: forward only). */
  advance(user: string, seq: number, now: number): boolean {
    const row = this.of(user);
    if (!row || seq <= row.seq) return false;
    this.#put({ ...row, seq, readAt: now });
    return true;
  }

  /** The remembered user who holds a name (folded), the one who joined last of any two. */
  remembered(folded: string): ReaderRow | undefined {
    if (!this.#names) {
      this.#names = new Map();
      // Most recent first: the first holder of a name seen is the one that wins.
      for (const row of this.#store.recent(MAX_REMEMBERED)) {
        const key = foldName(row.name);
        if (!this.#names.has(key)) this.#names.set(key, row);
      }
    }
    return this.#names.get(folded);
  }

  /** The verified users message `seq` mentions now (§10.2); none forgets its mentions. */
  mention(seq: number, users: readonly string[]): void {
    this.#store.mention(seq, users);
  }

  /** §10.2: unread messages after `after` that `author` did not write, and how many mention `user`. */
  counts(user: string, author: string, after: number, notBefore: number): { unread: number; mentions: number } {
    return this.#store.counts(user, author, after, notBefore);
  }

  /** The mentions of messages below `seq`, which are no longer stored, go. */
  dropMentionsBelow(seq: number): void {
    this.#store.dropMentionsBelow(seq);
  }

  /** Retention (§8.1): users who have not joined since `cutoff` are forgotten. */
  forgetBefore(cutoff: number): void {
    this.#store.forgetBefore(cutoff);
    for (const [user, row] of this.#rows) if (row && row.joined < cutoff) this.#rows.delete(user);
    this.#names = undefined;
  }

  #put(row: ReaderRow): void {
    this.#store.put(row);
    this.#rows.set(row.user, row);
    const folded = foldName(row.name);
    if (this.#names?.get(folded)?.user === row.user) this.#names.set(folded, row);
  }
}
