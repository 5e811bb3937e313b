/**
 * The room's chat history: the last HISTORY_LIMIT messages, in SQLite, with
 * a copy in memory.
 *
 * Layout, and why:
 * - A true ring: message `seq` lives in slot `seq % HISTORY_LIMIT`
 *   (`slot INTEGER PRIMARY KEY`, SQLite's rowid). Appending is one upsert
 *   that overwrites the oldest message in place: one statement and one row
 *   written per message, the billed unit, and nothing to trim.
 * - Each row stores the chat frame already serialized (`frame`): the broadcast
 *   sends those very bytes, and a welcome splices stored frames together
 *   without re-encoding up to HISTORY_LIMIT messages per join.
 * - No counter row: the newest message is never overwritten, so MAX(seq) is
 *   the room's latest seq, and seq can neither repeat nor skip across
 *   hibernation or restarts.
 * - The idempotency lookup (author, client id) runs on the in-memory copy,
 *   which holds exactly the ring, so "still in the ring" needs no index.
 *
 * The copy is loaded once per wake-up (at most HISTORY_LIMIT rows), and only
 * when a frame needs history: a typing frame or a close never reads storage.
 * A changed HISTORY_LIMIT re-lays the slots on that load, once. The table is
 * created by the first message, never by a read: reading a room nobody has
 * written to leaves no trace in storage.
 */
import { type ChatFrame, encodeChat } from "../shared/server-frames";
import { utf8Length } from "../shared/text";
import { tableExists } from "./sql";

interface Entry {
  seq: number;
  frame: string;
  /** UTF-8 length of `frame`, for the welcome's byte cap. */
  bytes: number;
  /** nameKey of the sender, for idempotency; null for API posts. */
  author: string | null;
  clientId: string | null;
}

type Row = { seq: number; frame: string; author: string | null; client_id: string | null };

export type NewMessage = Omit<ChatFrame, "type" | "seq">;

export class HistoryRing {
  readonly #sql: SqlStorage;
  readonly #limit: number;
  /** Consecutive seqs, oldest first; never longer than #limit. */
  readonly #entries: Entry[] = [];
  readonly #byClientId = new Map<string, Entry>();
  #latestSeq = 0;
  #created: boolean;
  /** Rows SQLite wrote and read for this ring since the object woke (billing units), the wake-up load included. */
  rowsWritten = 0;
  rowsRead = 0;

  constructor(sql: SqlStorage, limit: number) {
    this.#sql = sql;
    this.#limit = limit;
    this.#created = tableExists(sql, "ring");
    // Rooms created before this layout kept a `history` table keyed by seq.
    if (tableExists(sql, "history")) {
      this.#create();
      sql.exec(
        `INSERT OR REPLACE INTO ring (slot, seq, frame, author, client_id)
         SELECT seq % ?, seq, frame, author, client_id FROM history
         WHERE seq > (SELECT MAX(seq) FROM history) - ? ORDER BY seq`,
        limit,
        limit,
      );
      sql.exec("DROP TABLE history");
    }
    if (!this.#created) return;
    const cursor = sql.exec<Row & { slot: number }>(
      "SELECT slot, seq, frame, author, client_id FROM ring ORDER BY seq",
    );
    const rows = cursor.toArray();
    this.rowsRead += cursor.rowsRead;
    const kept = rows.slice(-limit);
    this.#latestSeq = rows.at(-1)?.seq ?? 0;
    // Slots follow seq % limit; after HISTORY_LIMIT changed they do not.
    if (kept.length < rows.length || kept.some((r) => r.slot !== r.seq % limit)) {
      this.#relay(kept);
    }
    for (const row of kept) {
      this.#push(entry(row.seq, row.frame, row.author, row.client_id));
    }
  }

  /** The newest seq in the room; 0 before the first message. */
  get latestSeq(): number {
    return this.#latestSeq;
  }

  /**
   * Stores a message under the next seq and returns its serialized frame.
   * Storage is written first; the caller broadcasts afterwards, and the
   * runtime's output gate holds those sends until the write is durable.
   */
  append(message: NewMessage, author: string | null): string {
    const seq = this.#latestSeq + 1;
    const { id } = message;
    const frame = encodeChat({ ...message, seq });
    this.#write(seq, frame, author, id ?? null);
    this.#latestSeq = seq;
    this.#push(entry(seq, frame, author, id ?? null));
    return frame;
  }

  /** How many messages the ring holds now. */
  get size(): number {
    return this.#entries.length;
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

  #push(entry: Entry): void {
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

  #create(): void {
    this.#sql.exec(
      `CREATE TABLE IF NOT EXISTS ring (
        slot INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL,
        frame TEXT NOT NULL,
        author TEXT,
        client_id TEXT
      )`,
    );
    this.#created = true;
  }

  /** One upsert: the message takes its slot, overwriting the one HISTORY_LIMIT older. */
  #write(seq: number, frame: string, author: string | null, clientId: string | null): void {
    if (!this.#created) this.#create();
    const cursor = this.#sql.exec(
      `INSERT INTO ring (slot, seq, frame, author, client_id) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(slot) DO UPDATE SET
         seq = excluded.seq, frame = excluded.frame, author = excluded.author, client_id = excluded.client_id`,
      seq % this.#limit,
      seq,
      frame,
      author,
      clientId,
    );
    this.rowsWritten += cursor.rowsWritten;
    this.rowsRead += cursor.rowsRead;
  }

  /** Rewrites the table for a new HISTORY_LIMIT, keeping the newest messages. */
  #relay(kept: Row[]): void {
    this.#sql.exec("DELETE FROM ring");
    for (const row of kept) this.#write(row.seq, row.frame, row.author, row.client_id);
  }
}

function entry(seq: number, frame: string, author: string | null, clientId: string | null): Entry {
  return { seq, frame, bytes: utf8Length(frame), author, clientId };
}

function frameOf(entry: Entry): string {
  return entry.frame;
}

function idKey(author: string, clientId: string): string {
  // NUL cannot occur in a name key (names refuse control characters).
  return `${author}\u0000${clientId}`;
}
