/**
 * The room's stores on the Durable Object's SQLite: the only code that
 * speaks SQL. No table is created by a read: `CREATE TABLE IF NOT EXISTS`
 * on a read path gave every room name anyone ever looked up a database of
 * its own (hardening finding 2). Each table appears with its first write.
 */
import { ROLES } from "../../shared/protocol";
import { type Bucket, isBucket } from "../../shared/rate-limit";
import { type Sanction, type SanctionKind, type SanctionStore, sanctionId } from "../state/sanctions";
import { isMember } from "../state/socket-state";
import type { AwayRow, AwayStore, BucketStore, MessageRow, Reactors, RingStore } from "./stores";

export function tableExists(sql: SqlStorage, name: string): boolean {
  return sql.exec("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", name).toArray().length > 0;
}

type SqlMessage = {
  v: number;
  seq: number;
  frame: string;
  author: string | null;
  client_id: string | null;
  reactors: string | null;
  evicted: number;
};

/**
 * The history (src/room/history.ts explains the layout): a `messages`
 * table keyed by `v`, one row per message in its latest state, written one
 * row per event. Rooms from before §7 kept a slot-keyed `ring` table (and
 * before that a seq-keyed `history` table); their rows come back as legacy
 * and the ring writes them again in this layout, once.
 */
export class SqlRingStore implements RingStore {
  readonly #sql: SqlStorage;
  #created: boolean;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
    this.#created = tableExists(sql, "messages");
  }

  load(): { rows: MessageRow[]; legacy: boolean } {
    const legacy: MessageRow[] = [];
    for (const table of ["history", "ring"]) {
      if (!tableExists(this.#sql, table)) continue;
      const old = this.#sql
        .exec<{ seq: number; frame: string; author: string | null; client_id: string | null }>(
          `SELECT seq, frame, author, client_id FROM ${table} ORDER BY seq`,
        )
        .toArray();
      for (const r of old) {
        legacy.push({
          seq: r.seq,
          v: r.seq,
          frame: r.frame,
          author: r.author,
          clientId: r.client_id,
          reactors: null,
          evicted: 0,
        });
      }
    }
    if (legacy.length > 0 || this.#legacyTables()) {
      legacy.sort((a, b) => a.seq - b.seq);
      return { rows: legacy, legacy: true };
    }
    if (!this.#created) return { rows: [], legacy: false };
    const rows = this.#sql
      .exec<SqlMessage>("SELECT v, seq, frame, author, client_id, reactors, evicted FROM messages ORDER BY seq")
      .toArray()
      .map(
        (r): MessageRow => ({
          seq: r.seq,
          v: r.v,
          frame: r.frame,
          author: r.author,
          clientId: r.client_id,
          reactors: r.reactors === null ? null : parseReactors(r.reactors),
          evicted: r.evicted,
        }),
      );
    return { rows, legacy: false };
  }

  write(row: MessageRow, replacing?: number): void {
    if (!this.#created) this.#create();
    const values = [
      row.v,
      row.seq,
      row.frame,
      row.author,
      row.clientId,
      row.reactors === null ? null : JSON.stringify(Object.fromEntries(row.reactors)),
      row.evicted,
    ];
    if (replacing === undefined) {
      this.#sql.exec(
        "INSERT INTO messages (v, seq, frame, author, client_id, reactors, evicted) VALUES (?, ?, ?, ?, ?, ?, ?)",
        ...values,
      );
    } else {
      this.#sql.exec(
        `UPDATE messages SET v = ?, seq = ?, frame = ?, author = ?, client_id = ?, reactors = ?, evicted = ?
         WHERE v = ?`,
        ...values,
        replacing,
      );
    }
  }

  replaceAll(rows: readonly MessageRow[]): void {
    if (this.#created) this.#sql.exec("DELETE FROM messages");
    for (const row of rows) this.write(row);
    for (const table of ["history", "ring"]) this.#sql.exec(`DROP TABLE IF EXISTS ${table}`);
  }

  #legacyTables(): boolean {
    return tableExists(this.#sql, "ring") || tableExists(this.#sql, "history");
  }

  #create(): void {
    this.#sql.exec(
      `CREATE TABLE IF NOT EXISTS messages (
        v INTEGER PRIMARY KEY,
        seq INTEGER NOT NULL,
        frame TEXT NOT NULL,
        author TEXT,
        client_id TEXT,
        reactors TEXT,
        evicted INTEGER NOT NULL
      )`,
    );
    this.#created = true;
  }
}

function parseReactors(text: string): Reactors | null {
  const value: unknown = JSON.parse(text);
  if (typeof value !== "object" || value === null) return null;
  const reactors: Reactors = new Map();
  // JSON.parse and Object.entries treat `__proto__` as an ordinary own key.
  for (const [emoji, who] of Object.entries(value)) {
    if (!Array.isArray(who)) continue;
    reactors.set(
      emoji,
      who.filter(
        (w): w is [string, string] => Array.isArray(w) && typeof w[0] === "string" && typeof w[1] === "string",
      ),
    );
  }
  return reactors;
}

/** Budgets that must outlive an eviction (src/room/budgets.ts), a row each. */
export class SqlBucketStore implements BucketStore {
  readonly #sql: SqlStorage;
  #created: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  exists(): boolean {
    this.#created ??= tableExists(this.#sql, "buckets");
    return this.#created;
  }

  load(): Iterable<[string, Bucket]> {
    if (!this.exists()) return [];
    return this.#sql
      .exec<{ key: string; tokens: number; at: number }>("SELECT key, tokens, at FROM buckets")
      .toArray()
      .map((r): [string, Bucket] => [r.key, { tokens: r.tokens, at: r.at }]);
  }

  put(key: string, bucket: Bucket, fullAt: number): void {
    if (!this.exists()) {
      this.#sql.exec(
        `CREATE TABLE IF NOT EXISTS buckets (
          key TEXT PRIMARY KEY,
          tokens REAL NOT NULL,
          at INTEGER NOT NULL,
          full_at INTEGER NOT NULL
        )`,
      );
      this.#created = true;
    }
    this.#sql.exec(
      `INSERT INTO buckets (key, tokens, at, full_at) VALUES (?, ?, ?, ?)
       ON CONFLICT(key) DO UPDATE SET tokens = excluded.tokens, at = excluded.at, full_at = excluded.full_at`,
      key,
      bucket.tokens,
      bucket.at,
      fullAt,
    );
  }

  prune(now: number): void {
    if (this.exists()) this.#sql.exec("DELETE FROM buckets WHERE full_at <= ?", now);
  }
}

/**
 * Members away within their presence grace (§5.4), a row each, written when
 * a member's last socket drops and deleted when they return or their grace
 * ends: rare events, so the row is plain JSON.
 */
export class SqlAwayStore implements AwayStore {
  readonly #sql: SqlStorage;
  #created: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  load(): AwayRow[] {
    if (!this.#exists()) return [];
    const rows: AwayRow[] = [];
    for (const r of this.#sql.exec<{ row: string }>("SELECT row FROM away").toArray()) {
      const row: unknown = JSON.parse(r.row);
      if (isAwayRow(row)) rows.push(row);
    }
    return rows;
  }

  put(row: AwayRow): void {
    if (!this.#exists()) {
      this.#sql.exec("CREATE TABLE IF NOT EXISTS away (key TEXT PRIMARY KEY, row TEXT NOT NULL)");
      this.#created = true;
    }
    this.#sql.exec(
      "INSERT INTO away (key, row) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET row = excluded.row",
      row.member.key,
      JSON.stringify(row),
    );
  }

  delete(key: string): void {
    if (this.#exists()) this.#sql.exec("DELETE FROM away WHERE key = ?", key);
  }

  #exists(): boolean {
    this.#created ??= tableExists(this.#sql, "away");
    return this.#created;
  }
}

function isAwayRow(value: unknown): value is AwayRow {
  return (
    typeof value === "object" &&
    value !== null &&
    "member" in value &&
    isMember(value.member) &&
    "bucket" in value &&
    isBucket(value.bucket) &&
    "until" in value &&
    typeof value.until === "number" &&
    "address" in value &&
    typeof value.address === "string"
  );
}

/**
 * Bans, mutes and slow mode (src/room/sanctions.ts): a row each, written
 * only by a moderator's action or an expiry. The whole table is read once
 * per wake-up, by the first frame that needs it.
 */
export class SqlSanctionStore implements SanctionStore {
  readonly #sql: SqlStorage;
  #created: boolean | undefined;

  constructor(sql: SqlStorage) {
    this.#sql = sql;
  }

  load(): { sanctions: Sanction[]; slowmode: number } {
    const book: { sanctions: Sanction[]; slowmode: number } = { sanctions: [], slowmode: 0 };
    if (!this.#exists()) return book;
    for (const r of this.#sql.exec<{ id: string; row: string }>("SELECT id, row FROM moderation").toArray()) {
      const value: unknown = JSON.parse(r.row);
      if (r.id === SLOWMODE_ID) book.slowmode = typeof value === "number" ? value : 0;
      else if (isSanction(value)) book.sanctions.push(value);
    }
    return book;
  }

  put(sanction: Sanction): void {
    this.#write(`${sanction.kind}:${sanctionId(sanction)}`, JSON.stringify(sanction));
  }

  delete(kind: SanctionKind, id: string): void {
    if (this.#exists()) this.#sql.exec("DELETE FROM moderation WHERE id = ?", `${kind}:${id}`);
  }

  setSlowmode(seconds: number): void {
    this.#write(SLOWMODE_ID, JSON.stringify(seconds));
  }

  #write(id: string, row: string): void {
    if (!this.#exists()) {
      this.#sql.exec("CREATE TABLE IF NOT EXISTS moderation (id TEXT PRIMARY KEY, row TEXT NOT NULL)");
      this.#created = true;
    }
    this.#sql.exec(
      "INSERT INTO moderation (id, row) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET row = excluded.row",
      id,
      row,
    );
  }

  #exists(): boolean {
    this.#created ??= tableExists(this.#sql, "moderation");
    return this.#created;
  }
}

const SLOWMODE_ID = "settings:slowmode";

function isSanction(value: unknown): value is Sanction {
  if (typeof value !== "object" || value === null) return false;
  const s = value as Record<string, unknown>;
  return (
    (s.kind === "ban" || s.kind === "mute") &&
    typeof s.name === "string" &&
    typeof s.key === "string" &&
    (s.until === null || typeof s.until === "number") &&
    typeof s.by === "string" &&
    ROLES.some((r) => r === s.role)
  );
}
