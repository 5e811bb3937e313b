/**
 * The room's chat history: the last HISTORY_LIMIT messages, kept in a
 * RingStore (SQLite in production, src/room/stores.ts) with a copy in memory.
 *
 * Layout, and why:
 * - A true ring: message `seq` lives in slot `seq % HISTORY_LIMIT`.
 *   Appending is one upsert that overwrites the oldest message in place: one
 *   statement and one row written per message, the billed unit, and nothing
 *   to trim.
 * - Each row stores the chat frame already serialized: the broadcast sends
 *   those very bytes, and a welcome splices stored frames together without
 *   re-encoding up to HISTORY_LIMIT messages per join.
 * - No counter row: the newest message is never overwritten, so the largest
 *   stored seq is the room's latest, and seq can neither repeat nor skip
 *   across hibernation or restarts.
 * - The idempotency lookup (author, client id) runs on the in-memory copy,
 *   which holds exactly the ring, so "still in the ring" needs no index.
 *
 * The copy is loaded once per wake-up (at most HISTORY_LIMIT rows), and only
 * when a frame needs history: a typing frame or a close never reads storage.
 * A changed HISTORY_LIMIT re-lays the slots on that load, once.
 */
import { encodeChat, type StoredChat } from "../shared/server-frames";
import { utf8Length } from "../shared/text";
import type { RingRow, RingStore } from "./stores";

interface Entry extends RingRow {
  /** UTF-8 length of `frame`, for the welcome's byte cap. */
  bytes: number;
}

export type NewMessage = Omit<StoredChat, "seq">;

export class HistoryRing {
  readonly #store: RingStore;
  readonly #limit: number;
  /** Consecutive seqs, oldest first; never longer than #limit. */
  readonly #entries: Entry[] = [];
  readonly #byClientId = new Map<string, Entry>();
  #latestSeq = 0;

  constructor(store: RingStore, limit: number) {
    this.#store = store;
    this.#limit = limit;
    const rows = store.load();
    const kept = rows.slice(-limit);
    this.#latestSeq = rows.at(-1)?.seq ?? 0;
    // Slots follow seq % limit; after HISTORY_LIMIT changed (or for rows
    // from the old seq-keyed table) they do not.
    if (kept.length < rows.length || kept.some((r) => r.slot !== r.seq % limit)) {
      store.replaceAll(kept.map((r) => ({ ...r, slot: r.seq % limit })));
    }
    for (const row of kept) this.#push(row);
  }

  /** The newest seq in the room; 0 before the first message. */
  get latestSeq(): number {
    return this.#latestSeq;
  }

  /** How many messages the ring holds now. */
  get size(): number {
    return this.#entries.length;
  }

  /**
   * Stores a message under the next seq and returns its serialized frame.
   * Storage is written first; the caller broadcasts afterwards, and the
   * runtime's output gate holds those sends until the write is durable.
   */
  append(message: NewMessage, author: string | null): string {
    const seq = this.#latestSeq + 1;
    const frame = encodeChat({ ...message, seq });
    const row = { slot: seq % this.#limit, seq, frame, author, clientId: message.id ?? null };
    this.#store.write(row);
    this.#latestSeq = seq;
    this.#push(row);
    return frame;
  }

  /** The stored frame of a message this author sent with this client id, if still in the ring. */
  findByClientId(author: string, clientId: string): string | undefined {
    return this.#byClientId.get(idKey(author, clientId))?.frame;
  }

  /**
   * Messages after `since` (all of the ring without it), oldest first, for a
   * welcome: the newest of them whose frames add up to at most `maxBytes`.
   * `gap` is true when some message after `since` is not returned, because
   * it has already been trimmed from the ring or did not fit, so the client
   * knows its view has a hole (the HTTP API pages through what did not fit).
   */
  after(since?: number, maxBytes = Number.POSITIVE_INFINITY): { frames: string[]; gap: boolean } {
    const from = since === undefined ? 0 : this.#indexAfter(since);
    if (since !== undefined && since >= this.#latestSeq) return { frames: [], gap: false };
    let start = this.#entries.length;
    let bytes = 0;
    while (start > from) {
      const next = this.#entries[start - 1];
      if (!next || bytes + next.bytes > maxBytes) break;
      bytes += next.bytes;
      start--;
    }
    const trimmed = since !== undefined && since + 1 < this.#oldestSeq;
    return { frames: this.#entries.slice(start).map(frameOf), gap: trimmed || start > from };
  }

  /**
   * A page for the HTTP API: the first `limit` messages with seq > since,
   * oldest first, so a reader pages forward with since = the last seq seen.
   */
  page(since: number, limit: number): string[] {
    const start = this.#indexAfter(since);
    return this.#entries.slice(start, start + limit).map(frameOf);
  }

  /** The seq of the oldest message in the ring (entries hold consecutive seqs). */
  get #oldestSeq(): number {
    return this.#latestSeq - this.#entries.length + 1;
  }

  /** Index in #entries of the first message with seq > since. */
  #indexAfter(since: number): number {
    return Math.max(0, since + 1 - this.#oldestSeq);
  }

  #push(row: RingRow): void {
    const entry = { ...row, bytes: utf8Length(row.frame) };
    this.#entries.push(entry);
    if (entry.author !== null && entry.clientId !== null) {
      this.#byClientId.set(idKey(entry.author, entry.clientId), entry);
    }
    while (this.#entries.length > this.#limit) {
      const dropped = this.#entries.shift();
      // An id can only be reused once its message has left the ring (the
      // room refuses duplicates before appending), so this key is the dropped one's.
      if (dropped?.author != null && dropped.clientId !== null) {
        this.#byClientId.delete(idKey(dropped.author, dropped.clientId));
      }
    }
  }
}

function frameOf(entry: Entry): string {
  return entry.frame;
}

function idKey(author: string, clientId: string): string {
  // NUL cannot occur in a name key (names refuse control characters).
  return `${author}\u0000${clientId}`;
}
