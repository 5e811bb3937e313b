/**
 * Read state on the room's SQLite (§10): `readers`, one row per verified
 * user the room remembers, with their read cursor; `mentions`, one row per
 * message and verified user it mentions. Guests have neither (§10: no
 * stable identity to keep it for).
 *
 * The counts read `message_log` (sql-messages.ts) directly: unread is a
 * range of its primary key, and a tombstone is told by its frame as
 * state/stored-message.ts tells it, so no column was added to the
 * messages and a chat writes nothing more for read state than its
 * mentions' rows. A mention row whose message expired or was deleted is
 * skipped by the join until the alarm's sweep drops it.
 */
import * as v from "valibot";
import { tableExists } from "./sql-stores";
import type { ReaderRow, ReadStore } from "./stores";

const ReaderSchema = v.object({
  user: v.string(),
  name: v.string(),
  joined: v.number(),
  seq: v.number(),
  read_at: v.number(),
});
const CountSchema = v.object({ n: v.number() });

/** Not a tombstone: the encoder writes `"deleted":true` only on those (stored-message.ts `isDeleted`). */
const LIVE = `instr(m.frame, '"deleted":true') = 0`;

export class SqlReadStore implements ReadStore {
  readonly #sql: SqlStorage;
  #created: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  get(user: string): ReaderRow | undefined {
    if (!this.#exists()) return undefined;
    return this.#readers("SELECT user, name, joined, seq, read_at FROM readers WHERE user = ?", user)[0];
  }

  put(row: ReaderRow): void {
    this.#create();
    this.#sql.exec(
      `INSERT INTO readers (user, name, joined, seq, read_at) VALUES (?, ?, ?, ?, ?)
       ON CONFLICT(user) DO UPDATE SET name = excluded.name, joined = excluded.joined, seq = excluded.seq, read_at = excluded.read_at`,
      row.user,
      row.name,
      row.joined,
      row.seq,
      row.readAt,
    );
  }

  recent(max: number): ReaderRow[] {
    if (!this.#exists()) return [];
    return this.#readers("SELECT user, name, joined, seq, read_at FROM readers ORDER BY joined DESC LIMIT ?", max);
  }

  forgetBefore(cutoff: number): void {
    if (this.#exists()) this.#sql.exec("DELETE FROM readers WHERE joined < ?", cutoff);
  }

  mention(seq: number, users: readonly string[]): void {
    if (users.length === 0 && !this.#exists()) return;
    this.#create();
    this.#sql.exec("DELETE FROM mentions WHERE seq = ?", seq);
    for (const user of users) this.#sql.exec("INSERT OR IGNORE INTO mentions (seq, user) VALUES (?, ?)", seq, user);
  }

  dropMentionsBelow(seq: number): void {
    if (this.#exists()) this.#sql.exec("DELETE FROM mentions WHERE seq < ?", seq);
  }

  counts(user: string, author: string, after: number, notBefore: number): { unread: number; mentions: number } {
    if (!tableExists(this.#sql, "message_log")) return { unread: 0, mentions: 0 };
    const unread = this.#count(
      `SELECT COUNT(*) AS n FROM message_log m
       WHERE m.seq > ? AND m.ts >= ? AND (m.author IS NULL OR m.author != ?) AND ${LIVE}`,
      after,
      notBefore,
      author,
    );
    if (unread === 0 || !this.#exists()) return { unread, mentions: 0 };
    const mentions = this.#count(
      `SELECT COUNT(*) AS n FROM mentions x JOIN message_log m ON m.seq = x.seq
       WHERE x.user = ? AND x.seq > ? AND m.ts >= ? AND (m.author IS NULL OR m.author != ?) AND ${LIVE}`,
      user,
      after,
      notBefore,
      author,
    );
    return { unread, mentions };
  }

  #count(query: string, ...bindings: SqlStorageValue[]): number {
    const row = v.safeParse(CountSchema, this.#sql.exec(query, ...bindings).toArray()[0]);
    return row.success ? row.output.n : 0;
  }

  #readers(query: string, ...bindings: SqlStorageValue[]): ReaderRow[] {
    return this.#sql
      .exec(query, ...bindings)
      .toArray()
      .flatMap((r) => {
        const row = v.safeParse(ReaderSchema, r);
        if (!row.success) return [];
        const { user, name, joined, seq, read_at } = row.output;
        return [{ user, name, joined, seq, readAt: read_at }];
      });
  }

  #create(): void {
    if (this.#exists()) return;
    this.#sql.exec(`CREATE TABLE IF NOT EXISTS readers (
        user TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        joined INTEGER NOT NULL,
        seq INTEGER NOT NULL,
        read_at INTEGER NOT NULL
      );
      CREATE INDEX IF NOT EXISTS readers_joined ON readers (joined);
      CREATE TABLE IF NOT EXISTS mentions (seq INTEGER NOT NULL, user TEXT NOT NULL, PRIMARY KEY (seq, user)) WITHOUT ROWID;
      CREATE INDEX IF NOT EXISTS mentions_user ON mentions (user, seq);`);
    this.#created = true;
  }

  #exists(): boolean {
    this.#created ??= tableExists(this.#sql, "readers");
    return this.#created;
  }
}
